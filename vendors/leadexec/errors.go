package leadexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/errtext"
)

// Sentinel errors. Every *Error and *RejectError wraps at most one of these,
// so callers can test with [errors.Is].
var (
	// ErrTokenInvalid: a bearer call (EditClient, QueryLeads) was answered
	// 401 twice, the second time with a freshly issued token.
	ErrTokenInvalid = errors.New("leadexec: access token refused")
	// ErrInvalidCredentials: the token endpoint refused the client id or
	// secret, the receiver refused the api-key, or the ASMX service refused
	// the Key.
	ErrInvalidCredentials = errors.New("leadexec: credentials refused")
	// ErrMissingCredentials: the call needs a credential the Config or
	// Source does not have. Nothing was sent.
	ErrMissingCredentials = errors.New("leadexec: credentials not configured")
	// ErrInvalidRequest: the request was refused before it was sent (for
	// example a new client without a password) or answered 400/422.
	ErrInvalidRequest = errors.New("leadexec: invalid request")
	// ErrNotFound: LeadExec answered 404 (for example an unknown ClientUID).
	ErrNotFound = errors.New("leadexec: not found")
	// ErrRateLimited: LeadExec answered 429. RetryAfter says how long it
	// asked us to wait, when it did.
	ErrRateLimited = errors.New("leadexec: rate limited")
	// ErrMalformed: a successful answer could not be read. Error.Body keeps
	// the start of the raw body.
	ErrMalformed = errors.New("leadexec: malformed response")
	// ErrRejected: LeadExec answered a post with isValidPost=false; see
	// [RejectError] for the ResponseType.
	ErrRejected = errors.New("leadexec: lead rejected")
)

// Error is a failed call: a transport failure, an HTTP error status, or an
// answer that could not be read. It never carries the ASMX Key, the client
// secret, an access token, a posting password or api-key: these are
// replaced by "[REDACTED]" wherever LeadExec echoes them.
type Error struct {
	// Op is the call: "InsertV1", "InsertV2", "Token", "GetClientList",
	// "GetClientData", "EditClient" or "QueryLeads".
	Op string
	// HTTPStatus is the answer's status; 0 when no answer was read.
	HTTPStatus int
	// Exception is the .NET exception type of an ASMX error
	// ("System.InvalidOperationException"), when the body names one.
	Exception string
	// Message is LeadExec's message (an OAuth error code, an exception
	// message, the start of a plain-text body) or what went wrong locally.
	Message string
	// Body is the start (at most 512 bytes) of a body that could not be
	// read, for the operator's log.
	Body string
	// RetryAfter is the Retry-After of a 429 (seconds or HTTP date); 0 when
	// absent.
	RetryAfter time.Duration
	// Transport is set when no HTTP answer was received (connection refused,
	// reset, timeout, body cut short).
	Transport bool
	// Unsent is set with Transport when the request cannot have reached
	// LeadExec: the connection was never made (refused, name not resolved).
	// Any other transport failure may have come after LeadExec applied the
	// request.
	Unsent bool

	class apierr.Class
	err   error // sentinel, may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "leadexec %s: ", e.Op)
	switch {
	case e.Transport:
		b.WriteString("transport: ")
	case e.HTTPStatus != 0 && (e.HTTPStatus < 200 || e.HTTPStatus > 299):
		fmt.Fprintf(&b, "HTTP %d: ", e.HTTPStatus)
	}
	if e.Exception != "" {
		b.WriteString(e.Exception + ": ")
	}
	b.WriteString(e.Message)
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, " (body %q)", e.Body)
	}
	return b.String()
}

// Unwrap returns the sentinel the error matches, if any (for transport
// failures: context.Canceled or context.DeadlineExceeded when the ctx
// ended the call).
func (e *Error) Unwrap() error { return e.err }

// Class sorts the error into the shared classification: transport
// failures, timeouts, 408, 5xx and answers that cannot be read are
// Transient; 429 is RateLimited (RetryAfter says for how long, when
// LeadExec said); 401, 403 and refused credentials are Auth; other 4xx,
// refused ASMX parameters and requests refused before sending are
// Permanent. See the package doc for the ASMX 500s.
func (e *Error) Class() apierr.Class { return e.class }

// Temporary reports whether repeating the call later may succeed
// (Transient or RateLimited).
func (e *Error) Temporary() bool { return e.class.Temporary() }

// RejectError is a post LeadExec answered with isValidPost=false. It is
// returned by [PostResponse.Err]; InsertV1 and InsertV2 report rejections
// in their PostResponse values, not as errors.
type RejectError struct {
	Op       string
	Response PostResponse
}

func (e *RejectError) Error() string {
	s := fmt.Sprintf("leadexec %s: lead rejected: %s", e.Op, e.Response.ResponseType)
	if d := e.Response.ResponseDetails; d != "" {
		s += ": " + d
	}
	return s
}

// Unwrap returns ErrRejected.
func (e *RejectError) Unwrap() error { return ErrRejected }

// Class is RateLimited for Post_Over_Max (the campaign's cap is reached:
// post again later), Transient for an unknown ResponseType, Permanent
// otherwise.
func (e *RejectError) Class() apierr.Class {
	switch e.Response.Outcome() {
	case RetryLater:
		if e.Response.ResponseType == PostOverMax {
			return apierr.RateLimited
		}
		return apierr.Transient
	}
	return apierr.Permanent
}

// Temporary reports whether posting the lead again later may succeed.
func (e *RejectError) Temporary() bool { return e.Response.Outcome() == RetryLater }

// maxSnippet bounds Error.Body and messages taken from bodies.
const maxSnippet = 512

// scrubber replaces secrets in text that travels in errors.
type scrubber []string

// clean replaces each secret, also in its URL-encoded and JSON-escaped
// forms (an answer may echo the request it got). Callers clean whole
// bodies before cutting them short, so no secret is ever half-kept.
func (s scrubber) clean(text string) string {
	for _, sec := range s {
		if len(sec) < 3 {
			continue
		}
		js, _ := json.Marshal(sec)
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec), string(js[1 : len(js)-1])} {
			text = strings.ReplaceAll(text, form, "[REDACTED]")
		}
	}
	return text
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxSnippet {
		s = s[:maxSnippet]
		for len(s) > 0 && !utf8ValidEnd(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// utf8ValidEnd reports whether s does not end inside a multi-byte rune.
func utf8ValidEnd(s string) bool {
	for i := len(s) - 1; i >= 0 && i >= len(s)-4; i-- {
		c := s[i]
		if c < 0x80 {
			return true
		}
		if c >= 0xC0 { // a lead byte: check the sequence is complete
			n := 2
			switch {
			case c >= 0xF0:
				n = 4
			case c >= 0xE0:
				n = 3
			}
			return len(s)-i >= n
		}
	}
	return true
}

// transportError turns a net/http failure into an Error. The request URL
// is dropped (it carries no secret, but keeps messages short).
func transportError(op string, err error, sc scrubber) *Error {
	e := &Error{Op: op, Transport: true, Message: sc.clean(errtext.Transport(err)), class: apierr.Transient}
	var op2 *net.OpError
	var dns *net.DNSError
	if (errors.As(err, &op2) && op2.Op == "dial") || errors.As(err, &dns) {
		e.Unsent = true
	}
	// Keep cancellation visible to errors.Is; other causes stay in the
	// message only (the chain may carry the URL).
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ctxErr) {
			e.err = ctxErr
		}
	}
	return e
}

func malformed(op string, status int, why string, body []byte, sc scrubber) *Error {
	return &Error{Op: op, HTTPStatus: status, Message: sc.clean(why), Body: snippet([]byte(sc.clean(string(body)))),
		class: apierr.Transient, err: ErrMalformed}
}

func invalidRequest(op, why string) *Error {
	return &Error{Op: op, Message: why, class: apierr.Permanent, err: ErrInvalidRequest}
}

func missingCredentials(op, what string) *Error {
	return &Error{Op: op, Message: what + " is not configured", class: apierr.Permanent, err: ErrMissingCredentials}
}

// statusError builds the error of a non-2xx answer. kind selects the body
// reading: "asmx" (plain-text .NET exception), anything else (JSON
// {error|message|Message}, else plain text).
func statusError(op, kind string, resp *response, now time.Time) *Error {
	e := &Error{Op: op, HTTPStatus: resp.status}
	body := []byte(resp.secret.clean(string(resp.body)))
	if kind == "asmx" {
		e.Exception, e.Message = dotnetException(body)
	} else {
		e.Message = jsonMessage(body)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.status)
		if e.Message == "" {
			e.Message = "unexpected status"
		}
		e.Body = snippet(body)
	}
	switch st := resp.status; {
	case st == http.StatusTooManyRequests:
		e.class, e.err = apierr.RateLimited, ErrRateLimited
		e.RetryAfter = retryAfter(resp.header.Get("Retry-After"), now)
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		e.class, e.err = apierr.Auth, ErrInvalidCredentials
	case st == http.StatusNotFound:
		e.class, e.err = apierr.Permanent, ErrNotFound
	case st == http.StatusBadRequest || st == http.StatusUnprocessableEntity:
		e.class, e.err = apierr.Permanent, ErrInvalidRequest
	case st == http.StatusRequestTimeout:
		e.class = apierr.Transient
	case st >= 400 && st < 500:
		e.class = apierr.Permanent
	case kind == "asmx" && st == http.StatusInternalServerError:
		e.class = asmxClass(e.Exception, e.Message)
		if e.class == apierr.Auth {
			e.err = ErrInvalidCredentials
		} else if e.class == apierr.Permanent {
			e.err = ErrInvalidRequest
		}
	default: // 5xx, 3xx and other oddities
		e.class = apierr.Transient
	}
	return e
}

// asmxClass classifies an ASMX HTTP 500. The framework's own parameter
// errors ("Missing parameter: X.", "Cannot convert abc to System.Int64.",
// "Request format is invalid") mean the request is wrong and are
// Permanent. LeadExec's message for a bad Key is not documented; an
// UnauthorizedAccessException, or a message saying the key is invalid, is
// taken as Auth. Everything else is a server fault and Transient.
func asmxClass(exception, msg string) apierr.Class {
	m := strings.ToLower(msg)
	switch {
	case strings.HasPrefix(m, "missing parameter"), strings.HasPrefix(m, "cannot convert"),
		strings.Contains(m, "request format is invalid"):
		return apierr.Permanent
	case strings.HasSuffix(exception, "UnauthorizedAccessException"), strings.HasSuffix(exception, "SecurityException"),
		invalidKey.MatchString(m):
		return apierr.Auth
	}
	return apierr.Transient
}

var invalidKey = regexp.MustCompile(`(invalid|unknown|bad|wrong)[a-z ]*\b(api )?key\b|\bkey\b[a-z ]*(invalid|not valid|not recognized|unknown)`)

// dotnetException splits the first line of a .NET exception text,
// "System.InvalidOperationException: Missing parameter: Key.", into the
// exception type and the message. A body that does not start with a
// dotted type name is returned whole (first line) as the message; an HTML
// page gives no message.
func dotnetException(body []byte) (exception, msg string) {
	s := strings.TrimSpace(string(body))
	if strings.HasPrefix(s, "<") {
		return "", ""
	}
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > maxSnippet {
		s = snippet([]byte(s))
	}
	if typ, rest, ok := strings.Cut(s, ": "); ok && dottedName.MatchString(typ) {
		// Exceptions nest: "A: outer ---> B: inner". Keep the outer one.
		return typ, strings.TrimSpace(rest)
	}
	return "", s
}

var dottedName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

// jsonMessage reads an error message from a JSON body ({"error":...,
// "error_description":...} as OAuth, {"message"|"Message":...} as ASP.NET
// Web API) or, failing that, the first line of a plain-text body.
func jsonMessage(body []byte) string {
	t := strings.TrimSpace(string(body))
	if t == "" || strings.HasPrefix(t, "<") {
		return ""
	}
	if strings.HasPrefix(t, "{") {
		obj, err := jsonObject([]byte(t))
		if err != nil {
			return ""
		}
		var parts []string
		for _, k := range []string{"error", "error_description", "message", "exceptionmessage", "title", "detail"} {
			if v, ok := obj.text(k); ok && v != "" {
				parts = append(parts, v)
			}
		}
		if len(parts) > 2 {
			parts = parts[:2]
		}
		return strings.Join(parts, ": ")
	}
	if i := strings.IndexAny(t, "\r\n"); i >= 0 {
		t = t[:i]
	}
	return snippet([]byte(t))
}

// retryAfter reads a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
