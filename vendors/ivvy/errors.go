package ivvy

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/errtext"
)

// Documented specific codes (spec §2.3, §2.4, §2.6).
const (
	CodeStaleRequest     = 23005 // 401: IVVY-Date/Date more than 5 minutes from server time
	CodeInvalidParameter = 23016 // 400: a parameter failed validation
	CodeMissingParameter = 23017 // 400: a required parameter is missing
	CodeLeadEmpty        = 24215 // addOrUpdateLead: the request is empty
	CodeLeadNotFound     = 24216 // addOrUpdateLead: the lead does not exist
	CodeLeadInvalid      = 24218 // addOrUpdateLead: the lead details are invalid
	CodeBatchNotSaved    = 24091
	CodeBatchBadJob      = 24092
	CodeBatchEmptyParams = 24093
	CodeBatchNotFound    = 24105 // progress: unknown async id
	CodeBatchNotDone     = 24114 // results: not completed yet
	CodeBatchNoResults   = 24115 // results: unknown async id
	CodeBatchTooManyJobs = 24448 // more than MaxBatchJobs jobs
)

// Error is a failure answered by iVvy (an error body {errorCode, message,
// specificCode, additionalMessages}, an add/update answered success:false,
// or a non-200 status) or a transport failure. It never carries the API key
// or secret.
type Error struct {
	Namespace, Action  string
	HTTPStatus         int // 0 for transport failures
	ErrorCode          int // iVvy's http-like errorCode; 0 when the body had none
	SpecificCode       int
	Message            string
	AdditionalMessages []string
	Transport          bool // no answer was received (connection, timeout)
	Malformed          bool // an answer was received but could not be read
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ivvy %s.%s: ", e.Namespace, e.Action)
	switch {
	case e.Transport:
		b.WriteString("transport: ")
	case e.ErrorCode != 0 && e.SpecificCode != 0:
		fmt.Fprintf(&b, "error %d/%d: ", e.ErrorCode, e.SpecificCode)
	case e.ErrorCode != 0:
		fmt.Fprintf(&b, "error %d: ", e.ErrorCode)
	case e.HTTPStatus != 0 && e.HTTPStatus != 200:
		fmt.Fprintf(&b, "HTTP %d: ", e.HTTPStatus)
	}
	b.WriteString(e.Message)
	if len(e.AdditionalMessages) > 0 {
		b.WriteString(" (" + strings.Join(e.AdditionalMessages, "; ") + ")")
	}
	return b.String()
}

// redact replaces the API key wherever the answer's text quotes it.
func (e *Error) redact(key string) {
	if key == "" {
		return
	}
	r := strings.NewReplacer(key, "[api key]", url.QueryEscape(key), "[api key]")
	e.Message = r.Replace(e.Message)
	for i, m := range e.AdditionalMessages {
		e.AdditionalMessages[i] = r.Replace(m)
	}
}

// Code is the most specific code known: the specific code, else the error
// code, else the HTTP status.
func (e *Error) Code() int {
	switch {
	case e.SpecificCode != 0:
		return e.SpecificCode
	case e.ErrorCode != 0:
		return e.ErrorCode
	}
	return e.HTTPStatus
}

// status is the http-like status of the failure: errorCode, else the HTTP
// status (the two mirror each other; the .NET SDK reads only the body).
func (e *Error) status() int {
	if e.ErrorCode != 0 {
		return e.ErrorCode
	}
	return e.HTTPStatus
}

// UnreadableAnswer reports whether an answer arrived that could not be
// read (see apierr.IsUnreadable).
func (e *Error) UnreadableAnswer() bool { return e.Malformed }

// Class sorts the error into the shared classification. Transport
// failures and answers that cannot be read are Transient (iVvy's writes
// are add-or-update, safe to repeat). A stale request (23005: the clock is
// more than five minutes off) is Transient: retried once the clock is
// right; see [IsStale]. Refused parameters and leads (23016, 23017, 24215,
// 24216, 24218, 24092, 24093, 24448), 400, 404, 405, 406, 461 and an
// add/update answered success:false without an error body are Permanent.
// 429 is RateLimited (iVvy documents no Retry-After); 401, 403, 462 and
// 463 are Auth; 5xx, 460 and anything else are Transient.
func (e *Error) Class() apierr.Class {
	if e.Transport || e.Malformed {
		return apierr.Transient
	}
	switch e.SpecificCode {
	case CodeStaleRequest:
		return apierr.Transient
	case CodeInvalidParameter, CodeMissingParameter, CodeLeadEmpty, CodeLeadNotFound, CodeLeadInvalid,
		CodeBatchBadJob, CodeBatchEmptyParams, CodeBatchTooManyJobs:
		return apierr.Permanent
	}
	switch st := e.status(); {
	case st == 429:
		return apierr.RateLimited
	case st == 401 || st == 403 || st == 462 || st == 463:
		return apierr.Auth
	case st == 400 || st == 404 || st == 405 || st == 406 || st == 461:
		return apierr.Permanent
	case st == 200 && e.ErrorCode == 0:
		// success:false without an error body: iVvy refused the data.
		return apierr.Permanent
	default: // 5xx, 460 unknown
		return apierr.Transient
	}
}

// Temporary reports whether repeating the call later may succeed
// (Transient or RateLimited).
func (e *Error) Temporary() bool { return e.Class().Temporary() }

// IsStale reports whether err is iVvy's "request is stale" (23005): the
// local clock is more than five minutes off. Its Class is Transient.
func IsStale(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.Transport && !e.Malformed && e.SpecificCode == CodeStaleRequest
}

// IsNotFound reports whether err is 24216, "the lead does not exist".
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.SpecificCode == CodeLeadNotFound
}

func transportError(ns, action string, err error) *Error {
	// The URL carries no secret, but is left out to keep messages short.
	return &Error{Namespace: ns, Action: action, Transport: true, Message: errtext.Transport(err)}
}

// IsRefused reports whether err is iVvy refusing the request as sent: an
// error answer classed Permanent (a parameter failed validation or is
// missing, 400, 404, 405, 406, 461). A caller that sent an undocumented
// parameter, such as a getLeadList filter, can take it as that parameter
// being refused and ask again without it. Transport failures, unreadable
// answers, rate limits, authentication failures and server errors are not
// refusals.
func IsRefused(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.Transport && !e.Malformed && e.Class() == apierr.Permanent
}
