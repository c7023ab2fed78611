package getlead

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/apierr"
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
	// NoAnswer says the request was sent (or may have been) and no answer
	// was read: it timed out or the connection dropped. See InDoubt.
	NoAnswer bool
	// Unreadable says an answer arrived that could not be read: the
	// request may have been applied.
	Unreadable bool
}

// UnreadableAnswer reports whether the answer could not be read (see
// apierr.IsUnreadable).
func (e *Error) UnreadableAnswer() bool { return e.Unreadable }

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

// Class sorts the error into the shared classification: 429 is
// RateLimited (RetryAfter says for how long, when Getlead said); 401/403 is
// Auth; a classic answer with status "fail" or "error", 400, 404, 405, 409,
// 413 and 422 are Permanent (no such lead and a phone held by another lead
// included: see [IsNotFound] and [IsConflict]); 5xx, timeouts, transport
// failures and answers that cannot be read are Transient.
func (e *Error) Class() apierr.Class {
	switch e.verdict() {
	case verdictRateLimited:
		return apierr.RateLimited
	case verdictAuth:
		return apierr.Auth
	case verdictPermanent, verdictNotFound, verdictConflict:
		return apierr.Permanent
	}
	return apierr.Transient
}

// Temporary reports whether repeating the call later may succeed
// (Transient or RateLimited).
func (e *Error) Temporary() bool { return e.Class().Temporary() }

// verdict is finer than Class: it tells no such lead and a conflict apart
// from other refusals, because callers act on those two.
type verdict int

const (
	verdictTransient verdict = iota + 1
	verdictPermanent
	verdictRateLimited
	verdictNotFound
	verdictConflict
	verdictAuth
)

func (e *Error) verdict() verdict {
	switch {
	case e.HTTPStatus == 429:
		return verdictRateLimited
	case e.HTTPStatus == 401 || e.HTTPStatus == 403:
		return verdictAuth
	case e.Message == MsgNotFound || (e.API == "v3" && e.HTTPStatus == 404):
		return verdictNotFound
	case e.HTTPStatus == 409:
		return verdictConflict
	case e.Status != "" && credentialsRefused(e.Message):
		// The classic API's HTTP status is not documented: a refused
		// token may come as HTTP 200 with status "error". Then no record
		// is at fault, and none may be dead-lettered for it.
		return verdictAuth
	case e.Status != "":
		return verdictPermanent
	case e.HTTPStatus == 400 || e.HTTPStatus == 404 || e.HTTPStatus == 405 || e.HTTPStatus == 413 || e.HTTPStatus == 422:
		return verdictPermanent
	}
	return verdictTransient
}

// credentialsRefused reports whether a classic failure message speaks of
// the token or of authentication rather than of the record ("Invalid
// token.", "Unauthenticated.", "Unauthorized"). The wording is not
// documented; the documented record failures name parameters, the mobile
// number or a missing enquiry, and never these words.
func credentialsRefused(msg string) bool {
	m := strings.ToLower(msg)
	for _, w := range []string{"token", "unauthenticated", "unauthorized", "unauthorised", "api key", "forbidden"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

// IsNotFound reports whether err says no lead matched ("Enquiry Not
// Found.", V3 404). Its Class is Permanent.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.verdict() == verdictNotFound
}

// IsConflict reports whether err is a V3 409: the phone belongs to another
// lead. Its Class is Permanent.
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.verdict() == verdictConflict
}

// InDoubt reports whether err leaves a request's fate unknown: it was
// sent and no answer came (timeout, connection dropped: Error.NoAnswer),
// or a gateway gave up waiting for Getlead (HTTP 504). Getlead may have
// applied such a request, or may still apply it later. A connection that
// was never made, and any answer Getlead gave, are not in doubt.
func InDoubt(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.NoAnswer || e.HTTPStatus == 504)
}

// transportError turns a net/http error into an Error without the request
// URL (the department endpoint has the token in its path).
func transportError(api, op string, err error) error {
	return &Error{API: api, Op: op, Message: scrub(errtext.Transport(err))}
}

// noAnswer is transportError for a request that may have reached Getlead:
// every failure of sending it or reading its answer except a failed dial.
func noAnswer(api, op string, err error) error {
	e := &Error{API: api, Op: op, Message: scrub(errtext.Transport(err))}
	var oe *net.OpError
	e.NoAnswer = !(errors.As(err, &oe) && oe.Op == "dial")
	return e
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
