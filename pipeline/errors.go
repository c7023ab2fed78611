package pipeline

import (
	"errors"
	"fmt"
	"time"
)

// ErrPermanent marks an error that retrying cannot fix: the record goes to
// the dead-letter queue with the vendor's code and message.
var ErrPermanent = errors.New("permanent")

// ErrStateUnusable is wrapped by a State error that retrying cannot heal
// within this process: the state is closed or its storage is damaged. A
// route returns such an error from Run (which stops the instance); every
// other state failure it retries with backoff, the batch unsettled.
var ErrStateUnusable = errors.New("state unusable")

// errState marks a batch that failed because the state did: nothing of it
// was settled, and the route retries it with backoff.
var errState = errors.New("state failed")

// ErrSkip, returned by a Mapper, says the event has nothing for the route's
// target (e.g. a lead deleted at the source: crmsync never deletes records
// in other systems). The event is acknowledged without a write or a dead
// letter.
var ErrSkip = errors.New("nothing to write for this route")

// PermanentError is a permanent failure with the vendor's code.
type PermanentError struct {
	Code string // vendor code, e.g. "205"
	Err  error
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() []error {
	return []error{e.Err, ErrPermanent}
}

// Permanent wraps err as permanent with the vendor's code.
func Permanent(code string, err error) error { return &PermanentError{Code: code, Err: err} }

// RetryAfterError is a transient failure that must not be retried sooner
// than After (rate limits).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// QuotaError says a vendor account's daily quota is spent until ResetAt.
// Probe marks a limit the vendor reported, whose reset time is not known:
// ResetAt is then when one request should check whether it has lifted.
type QuotaError struct {
	Account string
	ResetAt time.Time
	Probe   bool
	Err     error
}

func (e *QuotaError) Error() string {
	if e.Probe {
		return fmt.Sprintf("daily limit of %s reached (reset time unknown; probing again at %s): %v",
			e.Account, e.ResetAt.UTC().Format(time.RFC3339), e.Err)
	}
	return fmt.Sprintf("daily quota of %s spent until %s: %v", e.Account, e.ResetAt.UTC().Format(time.RFC3339), e.Err)
}
func (e *QuotaError) Unwrap() error { return e.Err }

// NextUTCMidnight is when a daily quota counted per UTC day resets.
func NextUTCMidnight(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}
