package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/crmsync/crmsync/vendors/apierr"
)

// write sends records to the sink, retrying transient failures with backoff
// until each record is written or permanently failed. It returns an error
// only when ctx ends first. A record with a field that an earlier in-doubt
// write may still overwrite is sent after the others, once that write can
// no longer land (see InDoubtError).
func (ru *Runner) write(ctx context.Context, stopping <-chan struct{}, recs []*Record) ([]Outcome, []int, error) {
	outcomes := make([]Outcome, len(recs))
	attempts := make([]int, len(recs))
	unread := make([]int, len(recs))
	var todo, fenced []int
	var fence time.Time
	now := ru.now()
	for i, r := range recs {
		if len(r.Fields) == 0 {
			// Nothing newer than what the target holds: no request.
			ru.Stats.Skipped.Add(1)
			outcomes[i] = Outcome{TargetID: r.TargetID}
			continue
		}
		if until := r.pendingUntil(now); !until.IsZero() {
			fenced = append(fenced, i)
			fence = maxTime(fence, until)
			continue
		}
		todo = append(todo, i)
	}
	if _, reads := ru.r.Sink.(TargetReader); ru.r.Reverse || reads {
		if err := ru.markIntended(ctx, recs, append(slices.Clone(todo), fenced...)); err != nil {
			return nil, nil, fmt.Errorf("route %s: mark intended writes: %w: %w", ru.r.Name, errState, err)
		}
	}
	bo := ru.newBackOff()
	if err := ru.send(ctx, stopping, recs, todo, outcomes, attempts, unread, bo, false); err != nil {
		return nil, nil, err
	}
	if len(fenced) > 0 {
		ru.Stats.Fenced.Add(int64(len(fenced)))
		wait := fence.Sub(ru.now())
		ru.log.Info("holding newer values back until an earlier write whose answer was lost can no longer land",
			"records", len(fenced), "in", wait.Round(time.Millisecond))
		if !sleepUntil(ctx, stopping, wait) {
			return nil, nil, fmt.Errorf("route %s: stopped while holding back newer values over an in-doubt write", ru.r.Name)
		}
		if err := ru.send(ctx, stopping, recs, fenced, outcomes, attempts, unread, bo, true); err != nil {
			return nil, nil, err
		}
	}
	return outcomes, attempts, nil
}

// send writes the records todo of recs, retrying transient failures with
// bo, and fills in their outcomes and attempts. A failure in doubt is
// recorded in the write ledger before it is retried; a write answered
// with something the vendor's client cannot read is settled by reading
// the record back, or dead-lettered after maxUnreadable such answers
// (unread counts them; see settleUnreadable). Records that waited
// (recheck: held back by the fence; and every retry) are checked against
// the write ledger first (see recheck), and a record whose write was in
// doubt is read back before it is sent again (see readBackInDoubt).
func (ru *Runner) send(ctx context.Context, stopping <-chan struct{}, recs []*Record, todo []int, outcomes []Outcome, attempts, unread []int, bo backoff.BackOff, recheck bool) error {
	doubted := map[int]time.Time{} // records a write of which was in doubt
	for len(todo) > 0 {
		if recheck {
			var err error
			if todo, err = ru.recheck(ctx, stopping, recs, todo, outcomes); err != nil {
				return err
			}
			if todo, err = ru.readBackInDoubt(ctx, stopping, recs, todo, doubted, outcomes); err != nil {
				return err
			}
			if len(todo) == 0 {
				break
			}
		}
		recheck = true
		batch := make([]*Record, len(todo))
		for j, i := range todo {
			batch[j] = recs[i]
			attempts[i]++
		}
		res := ru.r.Sink.Write(ctx, batch)
		var again, written []int
		var wait time.Duration
		var lastErr, unclassified error
		doubt := map[int]time.Time{}
		unreadable := map[int]error{} // record → its unreadable answer
		for j, i := range todo {
			o := res[j]
			if o.Err != nil && apierr.IsUnreadable(o.Err) && apierr.Temporary(o.Err) {
				unreadable[i] = o.Err
			}
			if o.Err == nil || errors.Is(o.Err, ErrPermanent) {
				o.answered = ru.now()
				outcomes[i] = o
				switch {
				case o.Err != nil:
				case o.Skip != "":
					ru.Stats.Skipped.Add(1)
				default:
					ru.Stats.Upserts.Add(1)
					written = append(written, i)
				}
				continue
			}
			again = append(again, i)
			lastErr = o.Err
			if apierr.IsUnclassified(o.Err) {
				unclassified = o.Err
			}
			if q, ok := IsQuota(o.Err); ok {
				wait = max(wait, q.ResetAt.Sub(ru.now()))
			}
			var ra *RetryAfterError
			if errors.As(o.Err, &ra) {
				wait = max(wait, ra.After)
			}
			var d *InDoubtError
			if errors.As(o.Err, &d) {
				doubt[i] = d.Until
			}
		}
		// A write once in doubt may have landed until a read says which:
		// the record is read back before every retry, not only after the
		// attempt that lost its answer (a later attempt can fail without
		// writing, and a read can fail).
		maps.Copy(doubted, doubt)
		if len(doubt) > 0 {
			ru.Stats.InDoubt.Add(int64(len(doubt)))
			// Some records of the batch may be written: the mark is
			// retried in place rather than the batch redelivered.
			if err := ru.retryState(ctx, stopping, "mark in-doubt writes", func() error {
				return ru.markInDoubt(ctx, recs, doubt)
			}); err != nil {
				return err
			}
		}
		if len(unreadable) > 0 {
			done := ru.settleUnreadable(ctx, stopping, recs, unreadable, outcomes, unread)
			again = slices.DeleteFunc(again, func(i int) bool { return done[i] })
		}
		todo = again
		if len(todo) == 0 {
			break
		}
		if len(written) > 0 {
			if err := ru.settleEarly(ctx, stopping, recs, written, outcomes); err != nil {
				return err
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ru.Stats.Retries.Add(1)
		d := bo.NextBackOff()
		if d == backoff.Stop {
			return fmt.Errorf("route %s: giving up: %w", ru.r.Name, lastErr)
		}
		if q, ok := IsQuota(lastErr); ok {
			if q.Probe {
				// The sink has said why, in the vendor's terms.
				ru.log.Info("the vendor's daily limit is reached; pausing this route, then one request probes whether it has lifted",
					"probe_at", ru.now().Add(wait).UTC(), "records", len(todo), "err", lastErr)
			} else {
				ru.log.Warn("daily quota spent; pausing this route until the reset", "resume_at", ru.now().Add(wait).UTC(), "err", lastErr)
			}
			d = wait
		} else {
			d = max(d, wait)
			if unclassified != nil {
				// A vendor error its client did not classify is a bug there.
				// Dead-lettering it could lose a record that a retry would
				// have written, so it is retried as transient, and said loudly.
				ru.log.Warn("unclassified vendor error (a bug in its client's classification); retrying it as transient",
					"records", len(todo), "in", d.Round(time.Millisecond), "err", unclassified)
			} else {
				ru.log.Info("transient failure; retrying", "records", len(todo), "in", d.Round(time.Millisecond), "err", lastErr)
			}
		}
		if !sleepUntil(ctx, stopping, d) {
			return fmt.Errorf("route %s: stopped while retrying: %w", ru.r.Name, lastErr)
		}
	}
	return nil
}

// settleEarly stores in the ledger the records of written, answered as
// written while others of their batch are still to be retried, instead of
// when the whole batch settles: the retries can take seconds, and until
// the ledger shows a record written, another route carrying the same
// change writes it again, over whatever a user changed at the target
// meanwhile. The bus acknowledgement still waits for the batch.
func (ru *Runner) settleEarly(ctx context.Context, stopping <-chan struct{}, recs []*Record, written []int, outcomes []Outcome) error {
	var st settlement
	for _, i := range written {
		ru.settleWritten(&st, recs[i], outcomes[i])
		outcomes[i].settled = true
	}
	if len(st.links)+len(st.ledger) == 0 {
		return nil
	}
	return ru.retryState(ctx, stopping, "save the records written while others are retried", func() error {
		_, err := ru.state.Settle(ctx, Settlement{Links: st.links, Ledger: st.ledger})
		return err
	})
}

// skipWrittenMeanwhile is the Outcome.Skip of a record found written
// while its write waited (recheck).
const skipWrittenMeanwhile = "the target holds its values already: written meanwhile"

// recheck reads the write ledger again for the records todo, about to be
// sent after a wait (a retry's backoff, the fence), and returns those
// still to send. Another route may have written the same target record
// meanwhile, and a user may have edited it at the target since: a record
// the ledger now shows holding every value it carries is settled as
// written without a request, so that sending it again late cannot turn
// such an edit back; and a field the ledger knows a newer value of is
// left out, so that the late write does not carry an older value over the
// newer one. The ledger knows a value once a write of it settled or the
// target reported it: the target holds the record then, and a create
// still waiting to be sent is an update of it (sinks address a record
// without a target id by its natural keys, which are never left out).
func (ru *Runner) recheck(ctx context.Context, stopping <-chan struct{}, recs []*Record, todo []int, outcomes []Outcome) ([]int, error) {
	keys := make([]string, len(todo))
	for j, i := range todo {
		keys[j] = recs[i].Key
	}
	var ledger map[string]LedgerEntry
	err := ru.retryState(ctx, stopping, "read the write ledger before a retry", func() error {
		var err error
		ledger, err = ru.state.Ledger(ctx, ru.r.To.Vendor, ru.r.To.Entity, keys)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []int
	for _, i := range todo {
		r := recs[i]
		e, ok := ledger[r.Key]
		if !ok {
			out = append(out, i)
			continue
		}
		held := true
		for f, v := range r.Fields {
			st, known := e.Fields[f]
			if !known || st.Hash != ValueHash(v) || !st.WroteAt.IsZero() {
				held = false
			}
			if known && st.Hash != ValueHash(v) && newer(st.At, r.Stamps[f]) && !naturalKey(r, f) {
				ru.log.Debug("field not written: a newer value reached the target while the write waited", "record", r.Key, "field", f)
				delete(r.Fields, f)
				delete(r.Stamps, f)
			}
		}
		if held || len(r.Fields) == 0 {
			ru.Stats.Skipped.Add(1)
			outcomes[i] = Outcome{TargetID: r.TargetID, Skip: skipWrittenMeanwhile}
			continue
		}
		out = append(out, i)
	}
	return out, nil
}

// naturalKey reports whether target field f is one the record is
// addressed by when its target id is unknown.
func naturalKey(r *Record, f string) bool {
	_, ok := r.NaturalKeys[f]
	return ok && r.TargetID == ""
}

// skipLandedLate is the Outcome.Skip of a record whose write was in doubt
// and is found landed, or overtaken by an edit at the target, when read
// back before its retry (readBackInDoubt).
const skipLandedLate = "the write whose answer was lost is read back as landed"

// readBackInDoubt reads back, before they are sent again, the records of
// todo a write of which was in doubt (doubted), and returns those still to
// send. The retry waits its backoff, and a rate limit met by another
// record of the batch can make that seconds: meanwhile the lost request
// may land and a user edit the record at the target, and a blind retry
// would turn that edit back. Each field is settled by what the target
// holds, as for a write that landed unsettled (readBackUnsettled): one
// holding the value sent landed, one holding another value than the value
// before the write was edited at the target since, and neither is sent
// again; one still holding the value before the write is. A record with
// nothing left to send is settled as skipped.
func (ru *Runner) readBackInDoubt(ctx context.Context, stopping <-chan struct{}, recs []*Record, todo []int, doubted map[int]time.Time, outcomes []Outcome) ([]int, error) {
	var read []*Record
	for _, i := range todo {
		if _, ok := doubted[i]; ok {
			read = append(read, recs[i])
		}
	}
	if len(read) == 0 {
		return todo, nil
	}
	if err := ru.readBackUnsettled(ctx, stopping, read); err != nil {
		return nil, err
	}
	var out []int
	for _, i := range todo {
		if len(recs[i].Fields) == 0 {
			ru.Stats.Skipped.Add(1)
			outcomes[i] = Outcome{TargetID: recs[i].TargetID, Skip: skipLandedLate}
			continue
		}
		out = append(out, i)
	}
	return out, nil
}

// newBackOff is the route's retry policy: Route.NewBackOff, else the
// batch policy's exponential backoff.
func (ru *Runner) newBackOff() backoff.BackOff {
	if ru.r.NewBackOff != nil {
		return ru.r.NewBackOff()
	}
	return ru.r.Batch.backOff()
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// DefaultBackOff is the retry policy of a route with a zero BatchPolicy:
// exponential from 200ms to 30s with ±50% jitter and no elapsed-time limit.
// A route retries a transient failure until it heals or the process stops.
func DefaultBackOff() backoff.BackOff { return BatchPolicy{}.withDefaults().backOff() }

// heartbeat keeps the bus from redelivering messages while a long batch is in
// the sink (retries, rate-limit waits), reporting them in progress every
// interval.
func heartbeat(msgs []*Message, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// sleepUntil waits d; it returns false early when ctx ends or stop closes.
func sleepUntil(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	case <-t.C:
		return true
	}
}

// Writes answered with something unreadable.
//
// A vendor answer its client cannot read (cut-off JSON, an HTML page where
// JSON belongs) may come after the vendor applied the write; retried
// without end, a record the vendor keeps answering so is posted again
// forever. So such a record is read back before it is sent again (when the
// sink is a TargetReader): one that holds every value sent, and has a
// target id, is settled as written. One that the read shows not written
// (or that cannot be read: its sink has no reader) counts an unreadable
// answer, and after maxUnreadable of them it is dead-lettered
// (CodeUnreadableAnswer) with the last answer. A read that fails (the
// vendor is down) counts nothing: an outage is retried, as ever. The count
// lives as long as the batch's write; a restart starts it again.

// maxUnreadable is how many unreadable answers, confirmed by a read that
// the write did not land, a record's write gets before it is
// dead-lettered. Five in a row is a record the vendor cannot take, not
// an unlucky draw of passing faults.
const maxUnreadable = 5

// CodeFieldType is the dead-letter code of a record with a value that is
// not of its target field's declared type (mappings.ConvertError).
const CodeFieldType = "field-type"

// CodeUnreadableAnswer is the dead-letter code of a record whose writes
// were answered in a way the vendor's client could not read, and which
// reading it back did not show written.
const CodeUnreadableAnswer = "unreadable_answer"

// settleUnreadable handles the records of recs whose write was just
// answered unreadably (answers, by index): it reads them back, settles as
// written (in outcomes) those that hold every value sent, and dead-letters
// those past maxUnreadable (counted in unread). It returns the records it
// decided.
func (ru *Runner) settleUnreadable(ctx context.Context, stopping <-chan struct{}, recs []*Record, answers map[int]error,
	outcomes []Outcome, unread []int) map[int]bool {
	idx := slices.Sorted(maps.Keys(answers))
	done := map[int]bool{}
	unwritten := idx
	if reader, ok := ru.r.Sink.(TargetReader); ok {
		read := make([]*Record, len(idx))
		for k, i := range idx {
			read[k] = recs[i]
		}
		current, err := ru.readBack(ctx, stopping, reader, read)
		if err != nil {
			ru.log.Warn("could not read back records whose write was answered unreadably; sending them again",
				"records", len(read), "err", err)
			return nil
		}
		ru.Stats.ReadBacks.Add(int64(len(read)))
		unwritten = nil
		var st settlement
		for k, i := range idx {
			switch r := recs[i]; {
			case !holds(current[k], r.Fields):
				unwritten = append(unwritten, i)
				ru.noteHeld(&st, r, current[k])
			case r.TargetID != "":
				outcomes[i] = Outcome{TargetID: r.TargetID}
				ru.Stats.Upserts.Add(1)
				done[i] = true
			}
			// A new record found holding the values is sent again: the
			// sink's create of an existing record finds its id.
		}
		if len(done) > 0 {
			ru.log.Info("writes answered unreadably were found applied by reading the records back", "records", len(done))
		}
		if len(st.ledger) > 0 {
			if err := ru.state.PutLedgers(ctx, st.ledger); err != nil {
				ru.log.Warn("could not record what the target held after an unreadable answer", "records", len(st.ledger), "err", err)
			}
		}
	}
	for _, i := range unwritten {
		if unread[i]++; unread[i] < maxUnreadable {
			continue
		}
		outcomes[i] = Outcome{Err: Permanent(CodeUnreadableAnswer, fmt.Errorf("%d answers could not be read and the record was not found written; "+
			"check the target before retrying the dead letter: %w", unread[i], answers[i]))}
		done[i] = true
	}
	return done
}

// noteHeld records, for the fields of r whose write is marked as sent and
// which the target was just read holding another value (current; nil: not
// read), that value as the one the field held before the write
// (FieldStamp.Prev): the write had not landed when read, so should it come
// back after a restart, the target still holding that value is no user's
// edit made after it (see readBackUnsettled). For a target nobody polls,
// the ledger's last written value is often not what the target holds.
func (ru *Runner) noteHeld(st *settlement, r *Record, current map[string]string) {
	if current == nil {
		return
	}
	held := map[string]string{}
	for f, v := range r.Fields {
		if got, ok := current[f]; ok && ValueHash(got) != ValueHash(v) {
			held[f] = ValueHash(got)
		}
	}
	if len(held) == 0 {
		return
	}
	ru.updateRecord(st, r, func(fields map[string]FieldStamp) bool {
		changed := false
		for f, h := range held {
			fs, ok := fields[f]
			n := len(fs.Wrote)
			if !ok || fs.WroteAt.IsZero() || n == 0 || fs.Wrote[n-1] != wroteMark(ru.srcVendor, r.Fields[f]) {
				continue // not this write's mark (settled, or written again)
			}
			fs.Prev = h
			fields[f] = fs
			changed = true
		}
		return changed
	})
}

// holds reports whether current, a record read back (nil: absent), shows
// every field of sent with the value sent.
func holds(current, sent map[string]string) bool {
	if current == nil {
		return false
	}
	for f, v := range sent {
		got, ok := current[f]
		if !ok || ValueHash(got) != ValueHash(v) {
			return false
		}
	}
	return true
}
