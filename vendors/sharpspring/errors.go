package sharpspring

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/crmsync/crmsync/vendors/apierr"
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
	// Unreadable says an answer arrived that could not be read (not the
	// JSON-RPC envelope, or a result of another shape): the call may have
	// been applied.
	Unreadable bool
}

// UnreadableAnswer reports whether the answer could not be read (see
// apierr.IsUnreadable).
func (e *Error) UnreadableAnswer() bool { return e.Unreadable }

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

// Class sorts the error into the shared classification: 107 and HTTP 429
// are RateLimited (retry after at least a second); 106 is Quota (the daily
// limit is spent: pause until the reset); 999, "Service temporarily
// unavailable", 5xx (502 included), transport failures and answers that
// cannot be read are Transient; HTTP 401 and 103, 104, 105 are Auth (see
// [IsAuth]); every other SharpSpring code (101, 102, 205, 209, and the
// per-object 301, 302, 404 a write result may carry) and HTTP 400, 403,
// 404 are Permanent.
func (e *Error) Class() apierr.Class {
	switch {
	case e.Code == 107 || e.HTTPStatus == 429:
		return apierr.RateLimited
	case e.Code == 106:
		return apierr.Quota
	case e.Code == 999 || e.Code == codeUnavailable:
		return apierr.Transient
	case e.isAuth():
		return apierr.Auth
	case e.Code != 0:
		return apierr.Permanent
	case e.HTTPStatus == 403 || e.HTTPStatus == 404 || e.HTTPStatus == 400:
		return apierr.Permanent
	default: // 5xx (incl. 502), malformed answers, transport
		return apierr.Transient
	}
}

// Temporary reports whether repeating the call later may succeed
// (Transient or RateLimited; a spent Quota waits for the reset).
func (e *Error) Temporary() bool { return e.Class().Temporary() }

func (e *Error) isAuth() bool {
	return e.HTTPStatus == 401 || e.Code == 103 || e.Code == 104 || e.Code == 105
}

// IsAuth reports whether err is an authentication failure (HTTP 401, or
// errors 103, 104, 105). Its Class is Auth.
func IsAuth(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.isAuth()
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
