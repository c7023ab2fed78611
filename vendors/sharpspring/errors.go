package sharpspring

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/crmsync/crmsync/vendors/errtext"
)

// Error is an error answered by SharpSpring: an API-level error object, an
// object-level error inside a write result, or an HTTP failure. It never
// carries the account's secret key.
type Error struct {
	Method     string
	Code       int    // SharpSpring error code; 0 for HTTP/transport failures
	Message    string // the vendor's message
	HTTPStatus int    // HTTP status when it was not 200
	Data       json.RawMessage
}

func (e *Error) Error() string {
	switch {
	case e.Code != 0:
		return fmt.Sprintf("sharpspring %s: error %d: %s", e.Method, e.Code, e.Message)
	case e.HTTPStatus != 0:
		return fmt.Sprintf("sharpspring %s: HTTP %d: %s", e.Method, e.HTTPStatus, e.Message)
	default:
		return fmt.Sprintf("sharpspring %s: %s", e.Method, e.Message)
	}
}

// Class says what a caller should do about an error.
type Class int

// Error classes.
const (
	Permanent   Class = iota // do not retry as sent
	Transient                // retry with backoff
	RateLimited              // retry after at least a second (107, HTTP 429)
	Quota                    // daily quota spent (106): pause until the reset
)

func (c Class) String() string {
	return [...]string{"permanent", "transient", "rate-limited", "quota"}[c]
}

// Classify sorts an error from this package (or the transport) into a class.
// Unknown errors are transient: a sync that gives up too early loses data.
func Classify(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		switch {
		case e.Code == 107 || e.HTTPStatus == 429:
			return RateLimited
		case e.Code == 106:
			return Quota
		case e.Code == 999 || e.Code == codeUnavailable:
			return Transient
		case e.Code != 0:
			return Permanent
		case e.HTTPStatus == 401 || e.HTTPStatus == 403 || e.HTTPStatus == 404 || e.HTTPStatus == 400:
			return Permanent
		default: // 5xx (incl. 502), malformed answers, transport
			return Transient
		}
	}
	return Transient
}

// IsAuth reports whether err is an authentication failure (HTTP 401, or
// errors 103, 104, 105).
func IsAuth(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.HTTPStatus == 401 || e.Code == 103 || e.Code == 104 || e.Code == 105
}

// codeUnavailable is used for SharpSpring's "Service temporarily unavailable"
// answer, whose real code was never recorded; it is treated as transient.
const codeUnavailable = -1

// transportError turns a net/http error into an Error without the request
// URL, which holds the secret key.
func transportError(method string, err error) error {
	return &Error{Method: method, Message: scrub(errtext.Transport(err))}
}

// scrub removes anything that looks like a credential query from a message.
func scrub(s string) string {
	for _, k := range []string{"secretKey=", "accountID="} {
		for {
			i := strings.Index(s, k)
			if i < 0 {
				break
			}
			j := i + len(k)
			for j < len(s) && s[j] != '&' && s[j] != ' ' && s[j] != '"' {
				j++
			}
			s = s[:i] + k + "REDACTED" + s[j:]
			if !strings.Contains(s[i+len(k)+8:], k) {
				break
			}
		}
	}
	return s
}
