package getlead

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/errtext"
)

// Error is a failure answered by Getlead (either API) or met on the way. It
// never carries the classic token or the V3 key.
type Error struct {
	API        string // "classic" or "v3"
	Op         string // endpoint or operation, e.g. "gl-website-contacts", "PATCH /leads/by-identifier"
	HTTPStatus int    // 0 when no HTTP answer was read
	Status     string // classic answer status: "fail" or "error"
	Code       string // V3 error.code
	Message    string // the vendor's message
	// RetryAfter is how long Getlead asked us to wait (V3 429: retry_after
	// or the Retry-After header); 0 if it did not say.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "getlead %s %s: ", e.API, e.Op)
	switch {
	case e.Status != "":
		fmt.Fprintf(&b, "%s: ", e.Status)
	case e.HTTPStatus != 0:
		fmt.Fprintf(&b, "HTTP %d: ", e.HTTPStatus)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, "%s: ", e.Code)
	}
	b.WriteString(e.Message)
	return b.String()
}

// Classic answer messages the client recognises.
const (
	MsgNotFound     = "Enquiry Not Found."
	MsgCheckParams  = "Please check the parameters."
	MsgMobileLength = "The mobileno must be between 8 and 14 digits."
)

// Class says what a caller should do about an error.
type Class int

// Error classes.
const (
	Transient   Class = iota // retry with backoff (5xx, timeouts, transport, malformed answers)
	Permanent                // do not retry as sent (validation, "Please check the parameters.")
	RateLimited              // HTTP 429: retry after RetryAfter
	NotFound                 // no such lead ("Enquiry Not Found.", V3 404)
	Conflict                 // V3 409: the phone belongs to another lead
	Auth                     // HTTP 401/403: the token or key is wrong
)

func (c Class) String() string {
	return [...]string{"transient", "permanent", "rate-limited", "not-found", "conflict", "auth"}[c]
}

// Classify sorts an error from this package (or the transport) into a class.
// Unknown errors are transient: a sync that gives up too early loses data.
func Classify(err error) Class {
	var e *Error
	if !errors.As(err, &e) {
		return Transient
	}
	switch {
	case e.HTTPStatus == 429:
		return RateLimited
	case e.HTTPStatus == 401 || e.HTTPStatus == 403:
		return Auth
	case e.Message == MsgNotFound || (e.API == "v3" && e.HTTPStatus == 404):
		return NotFound
	case e.HTTPStatus == 409:
		return Conflict
	case e.Status != "":
		return Permanent
	case e.HTTPStatus == 400 || e.HTTPStatus == 404 || e.HTTPStatus == 405 || e.HTTPStatus == 413 || e.HTTPStatus == 422:
		return Permanent
	}
	return Transient
}

// IsNotFound reports whether err says no lead matched.
func IsNotFound(err error) bool { return Classify(err) == NotFound }

// transportError turns a net/http error into an Error without the request
// URL (the department endpoint has the token in its path).
func transportError(api, op string, err error) error {
	return &Error{API: api, Op: op, Message: scrub(errtext.Transport(err))}
}

// secretPattern also takes the characters of a URL- or base64-encoded
// token, so that no part of one is left behind.
var secretPattern = regexp.MustCompile(`\b(gl|ik)_[A-Za-z0-9._\-~+/=%]+`)

// scrub replaces anything that looks like a Getlead token or key.
func scrub(s string) string { return secretPattern.ReplaceAllString(s, "${1}_REDACTED") }

// snippet is the start of an answer for an error message: in UTF-8
// whatever the answer's bytes, scrubbed before it is cut so that no part
// of a token is left.
func snippet(b []byte) string { return errtext.Snippet(b, 200, scrub) }
