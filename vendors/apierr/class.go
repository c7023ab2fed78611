// Package apierr is the one classification of vendor API failures that
// every vendor client shares: what a caller should do about an error, by
// behaviour (retry, wait, give up, call an operator), not by vendor code.
//
// A vendor client's error type carries the vendor's own code and message
// and says its Class through a Class method; [Classify] finds it anywhere
// in an error's chain. The package imports nothing from crmsync, so that
// vendor clients use it without depending on the pipeline.
package apierr

import (
	"errors"
	"strconv"
)

// Class says what a caller should do about a failed vendor call.
//
// The zero value is Unclassified: nobody decided. It is never taken as
// Transient or Permanent in silence; see [Unclassified].
type Class int

// Error classes.
const (
	// Unclassified is the zero Class: the error is not a vendor error, or
	// a vendor error that nobody classified, which is a bug in the client.
	// It is handled defensively: the pipeline's retry layer retries it with
	// backoff, as it would a Transient failure, and logs it as unclassified
	// at warning level every time, so the bug is seen and no record is
	// dead-lettered (lost to the target) because of it.
	Unclassified Class = iota
	// Transient failures may succeed if the same call is repeated later:
	// transport failures, timeouts, 5xx, answers that cannot be read.
	Transient
	// Permanent failures will fail again as sent: the vendor refused the
	// request or the record (validation, unknown record, bad parameters).
	Permanent
	// RateLimited means the vendor asked us to slow down (HTTP 429 and its
	// vendor equivalents): retry later, no sooner than the wait the vendor
	// asked for when it said one (the vendor's error carries it).
	RateLimited
	// Quota means a daily allowance is spent: pause the account until it
	// resets, keep the rest running.
	Quota
	// Auth means the credentials, not the record, are at fault (a refused
	// key, token or signature): retrying will not help until an operator
	// fixes the configuration, and the record is not to blame.
	Auth
)

var names = [...]string{"unclassified", "transient", "permanent", "rate-limited", "quota", "auth"}

func (c Class) String() string {
	if c >= 0 && int(c) < len(names) {
		return names[c]
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Temporary reports whether repeating the same call later, with backoff,
// may succeed without anyone changing anything: true for Transient and
// RateLimited, and for Unclassified, which is retried defensively. A spent
// Quota waits for a reset, not a backoff; Permanent and Auth need the
// record or the configuration changed.
func (c Class) Temporary() bool {
	switch c {
	case Transient, RateLimited, Unclassified:
		return true
	}
	return false
}

// Classify returns the Class of the first error in err's chain that has a
// Class method (every vendor client's error type has one), found with
// [errors.As]. It returns Unclassified when none has, or when the one
// found says Unclassified; in particular for nil, context errors and
// errors from outside the vendor clients.
func Classify(err error) Class {
	var c interface{ Class() Class }
	if errors.As(err, &c) {
		return c.Class()
	}
	return Unclassified
}

// IsUnclassified reports whether err is a vendor error (one with a Class
// method) that says Unclassified: a bug in the vendor client's
// classification, as opposed to an error that was never a vendor answer.
func IsUnclassified(err error) bool {
	var c interface{ Class() Class }
	return errors.As(err, &c) && c.Class() == Unclassified
}

// Temporary reports whether repeating the call that returned err may
// succeed later: Classify(err).Temporary(). Errors outside the vendor
// clients are Unclassified and so Temporary; nil is not.
func Temporary(err error) bool { return err != nil && Classify(err).Temporary() }

// IsUnreadable reports whether err says the vendor answered a request with
// something its client cannot read (cut-off JSON, an HTML page where JSON
// belongs): the request may have been applied all the same. A vendor
// error says so with an UnreadableAnswer method. Such a failure is
// retried, but not without end: the pipeline settles a write answered so
// by reading the record back, and dead-letters it with the answer after a
// few tries.
func IsUnreadable(err error) bool {
	var u interface{ UnreadableAnswer() bool }
	return errors.As(err, &u) && u.UnreadableAnswer()
}
