package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/crmsync/crmsync/vendors/apierr"
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

// AuthWait is how long a batch waits after the vendor refused crmsync's
// credentials before it is tried again.
const AuthWait = time.Minute

// FromVendor turns a vendor client's failed call into the pipeline's error
// classes, by its apierr.Class:
//
//   - Auth waits AuthWait: the credentials, not the records, are at fault,
//     so the batch is kept and tried again slowly until an operator fixes
//     the configuration;
//   - RateLimited waits rateWait (the vendor's Retry-After when it gave
//     one, else the sink's least wait);
//   - Permanent dead-letters the records under code, the vendor's own
//     (e.g. SharpSpring's "205");
//   - anything else is returned as it is: Transient and Unclassified are
//     retried with backoff, and a sink that knows a vendor's daily limit
//     turns Quota into a *QuotaError before it asks.
func FromVendor(err error, code string, rateWait time.Duration) error {
	switch apierr.Classify(err) {
	case apierr.Auth:
		return &RetryAfterError{After: AuthWait, Err: err}
	case apierr.RateLimited:
		return &RetryAfterError{After: rateWait, Err: err}
	case apierr.Permanent:
		return Permanent(code, err)
	default:
		return err
	}
}

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
