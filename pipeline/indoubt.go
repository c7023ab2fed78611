package pipeline

import (
	"context"
	"time"
)

// In-doubt writes.
//
// A write whose request timed out, or whose connection dropped before the
// answer, may have been applied, or may be applied later still: a vendor
// can queue a request, or a stalled worker can finish it, long after the
// client gave up. The route retries it like any transient failure, and the
// retry writes the same values, so the late request is harmless while it
// lands on them. It is not harmless once a newer value is written: then
// the older value lands last, although both writes were answered.
//
// No read can settle that. A read after the retry shows the retry's value,
// which is also the late request's, so it cannot tell whether that request
// is still to land; and a read made before a newer write says nothing of
// what lands after it. Without a conditional write at the vendor (an
// If-Match or updated-time precondition; Getlead, iVvy and SharpSpring
// document none), what keeps newest-wins is order: a newer value for a
// field goes out only once the in-doubt request can no longer land. The
// sink knows its vendor and says how long that is (InDoubtError.Until);
// the route records it on the fields in the write ledger (FieldStamp.
// Pending) the moment it sees the failure, so that every route writing
// the record, and a restarted process, waits for it before writing a newer
// value of those fields. This costs no request, nothing on the happy path,
// and a wait only for a record changed again within that time. A request
// that lands later than the sink's bound is past what any client-side
// check can see; reconciliation (verify) is the backstop for it.

// InDoubtError is a transient write failure whose request may have been
// applied anyway, now or up to Until: it timed out, or the connection
// dropped before the answer. The route retries it as transient and holds
// back newer values of the record's fields until Until (see the section
// comment above).
type InDoubtError struct {
	Until time.Time
	Err   error
}

func (e *InDoubtError) Error() string { return e.Err.Error() }
func (e *InDoubtError) Unwrap() error { return e.Err }

// InDoubt marks err, a failed write, as possibly applied until until.
func InDoubt(err error, until time.Time) error { return &InDoubtError{Until: until, Err: err} }

// pendingUntil returns the latest time until which an earlier in-doubt
// write of one of the record's fields may still land, if later than now.
func (r *Record) pendingUntil(now time.Time) time.Time {
	var until time.Time
	for f := range r.Fields {
		if p := r.ledger.Fields[f].Pending; p.After(now) && p.After(until) {
			until = p
		}
	}
	return until
}

// markInDoubt records at once in the write ledger that the fields of the
// given records may still be written by a request in doubt, until when, so
// that no newer value of them goes out before (whichever route or process
// writes it).
func (ru *Runner) markInDoubt(ctx context.Context, recs []*Record, until map[int]time.Time) error {
	var st settlement
	for i, u := range until {
		r := recs[i]
		ru.updateRecord(&st, r, func(fields map[string]FieldStamp) bool {
			for f := range r.Fields {
				fs := fields[f]
				if u.After(fs.Pending) {
					fs.Pending = u
				}
				fields[f] = fs
			}
			return true
		})
	}
	return ru.state.PutLedgers(ctx, st.ledger)
}
