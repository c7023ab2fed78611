package ivvy

import (
	"errors"
	"fmt"
	"strings"

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

// Class says what a caller should do about an error.
type Class int

// Error classes.
const (
	Permanent   Class = iota // the request as sent can never succeed
	Transient                // retry with backoff
	RateLimited              // 429: retry later; iVvy documents no Retry-After
	Stale                    // 401/23005: clock skew; retry once the clock is right
	Auth                     // 401/403/462/463: the key, not the record, is at fault
)

func (c Class) String() string {
	return [...]string{"permanent", "transient", "rate-limited", "stale", "auth"}[c]
}

// Classify sorts an error into a class. Unknown errors are transient: a sync
// that gives up too early loses data.
func Classify(err error) Class {
	var e *Error
	if !errors.As(err, &e) {
		return Transient
	}
	if e.Transport || e.Malformed {
		// An answer that cannot be read says nothing about the request:
		// retry (iVvy's writes are add-or-update, safe to repeat).
		return Transient
	}
	switch e.SpecificCode {
	case CodeStaleRequest:
		return Stale
	case CodeInvalidParameter, CodeMissingParameter, CodeLeadEmpty, CodeLeadNotFound, CodeLeadInvalid,
		CodeBatchBadJob, CodeBatchEmptyParams, CodeBatchTooManyJobs:
		return Permanent
	}
	switch st := e.status(); {
	case st == 429:
		return RateLimited
	case st == 401 || st == 403 || st == 462 || st == 463:
		return Auth
	case st == 400 || st == 404 || st == 405 || st == 406 || st == 461:
		return Permanent
	case st == 200 && e.ErrorCode == 0:
		// success:false without an error body: iVvy refused the data.
		return Permanent
	default: // 5xx, 460 unknown, malformed answers
		return Transient
	}
}

// IsStale reports whether err is iVvy's "request is stale" (23005): the
// local clock is more than five minutes off.
func IsStale(err error) bool { return Classify(err) == Stale }

// IsNotFound reports whether err is 24216, "the lead does not exist".
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.SpecificCode == CodeLeadNotFound
}

func transportError(ns, action string, err error) *Error {
	// The URL carries no secret, but is left out to keep messages short.
	return &Error{Namespace: ns, Action: action, Transport: true, Message: errtext.Transport(err)}
}
