package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/crmsync/crmsync/vendors/apierr"
)

// Writes that landed without being settled.
//
// A route writes a batch, then settles it (ledger, identities, the bus
// acknowledgement). A process stopped in between (SIGKILL, a drain that
// ran out) leaves writes that may have landed at the target while crmsync
// does not know it: the ledger still shows them as sent (FieldStamp.WroteAt,
// Sent: a route that can read its target back marks its writes so before
// sending them), and the bus delivers the batch again. A user who edits the record in the target
// in that window made a change newer than the batch, which crmsync cannot
// see without reading the target: written again blindly, the batch turns
// the user's edit back.
//
// So before such a record is written, the route reads it back (when its
// sink is a TargetReader) and settles the earlier write by what the
// target holds, field by field:
//
//   - the value crmsync sent: the write landed, and the field is settled
//     as written and left out of the write (written again, it would change
//     nothing, or turn back a user's edit made at the target between the
//     read and the write, which can be seconds when the write is retried);
//   - the value known before the write (FieldStamp.Prev; empty when none
//     was known): the write did not land there, and goes out again;
//   - anything else: a change made at the target after the write landed, a
//     user's edit newer than what the batch carries. The field is left out
//     of the write, and the ledger records the earlier write as landed
//     (as settling it would have), so that the edit is an ordinary change
//     at the target from then on: kept against the same value carried
//     again by later batches, and reported by the target's poller with
//     its own time. When the record shows the earlier write did not land
//     (some field still holds its value from before, none the value sent),
//     a value read is not newer than the write, and nothing is left out.
//
// A field the batch now carries a newer value of than the write that may
// have landed is written as in the steady state. The read happens only
// for records with a write sent and never settled (a redelivered batch
// whose first delivery never got to send reads nothing: no user edit can
// postdate a write that was not made); an ordinary batch reads nothing
// (RouteStats.ReadBacks counts the records read). A read that fails is
// retried until it succeeds or the route stops (see readBack): the batch
// is never written blind. A sink that cannot read its target, or a read
// refused for good (credentials, quota), leaves the batch to be written as
// before.

// earlierWrite is what the ledger (or, without it, the batch) says crmsync
// wrote into one field before.
type earlierWrite struct {
	wrote  string    // "<vendor>:<hash>", as in FieldStamp.Wrote
	hash   string    // the hash part of wrote
	prev   string    // hash of the value known before it ("" when none)
	before []string  // crmsync's writes of the field before it (FieldStamp.Wrote)
	at     time.Time // change time of the value
	sent   time.Time // when the write was sent (FieldStamp.Sent)
}

// earlierWrites returns the fields of r, about to be written, whose
// earlier write may have landed without being settled: marked in the
// ledger as sent and not settled.
func earlierWrites(r *Record) map[string]earlierWrite {
	var out map[string]earlierWrite
	for f := range r.Fields {
		st := r.ledger.Fields[f]
		n := len(st.Wrote)
		if st.WroteAt.IsZero() || n == 0 {
			continue
		}
		last := st.Wrote[n-1]
		if out == nil {
			out = map[string]earlierWrite{}
		}
		out[f] = earlierWrite{wrote: last, hash: last[strings.LastIndexByte(last, ':')+1:], prev: st.Prev, before: st.Wrote[:n-1], at: st.WroteAt, sent: st.Sent}
	}
	return out
}

// readBackUnsettled reads back the records of recs whose earlier write may
// have landed without being settled, and leaves out of their write the
// fields a user changed at the target since (see the section comment).
// It returns an error only for a state failure (wrapping errState), or
// when the route stops before the records are read (wrapping errStopped).
func (ru *Runner) readBackUnsettled(ctx context.Context, stopping <-chan struct{}, recs []*Record) error {
	reader, ok := ru.r.Sink.(TargetReader)
	if !ok {
		return nil
	}
	var todo []*Record
	var earlier []map[string]earlierWrite
	for _, r := range recs {
		if len(r.Fields) == 0 {
			continue
		}
		if w := earlierWrites(r); len(w) > 0 {
			todo = append(todo, r)
			earlier = append(earlier, w)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	current, err := ru.readBack(ctx, stopping, reader, todo)
	if errors.Is(err, errStopped) {
		return err
	}
	if err != nil {
		if !errors.Is(err, ErrNoReader) {
			ru.log.Warn("could not read back records whose earlier write may have landed unsettled; writing them as they are",
				"records", len(todo), "err", err)
		}
		return nil
	}
	ru.Stats.ReadBacks.Add(int64(len(todo)))
	ru.log.Debug("read back records whose earlier write may have landed unsettled", "records", len(todo))
	var st settlement
	now := ru.now()
	for i, r := range todo {
		settled := map[string]earlierWrite{}
		for _, f := range editedAtTarget(earlier[i], current[i]) {
			w := earlier[i][f]
			if ValueHash(r.Fields[f]) != w.hash {
				// The batch carries a newer change than the earlier write:
				// written, as any change made at the source.
				continue
			}
			ru.log.Debug("field not written: changed at the target after crmsync's earlier write landed unsettled",
				"record", r.Key, "field", f)
			settled[f] = w
		}
		for _, f := range holdsSent(earlier[i], current[i]) {
			if ValueHash(r.Fields[f]) == earlier[i][f].hash {
				// The target holds what the batch would write: the earlier
				// write landed. Written again, it could only turn back an
				// edit made at the target after this read.
				settled[f] = earlier[i][f]
			}
		}
		for f := range settled {
			delete(r.Fields, f)
			delete(r.Stamps, f)
		}
		if len(settled) == 0 {
			continue
		}
		apply := func(fields map[string]FieldStamp, check bool) {
			for f, w := range settled {
				fs := fields[f]
				if n := len(fs.Wrote); check && (n == 0 || fs.Wrote[n-1] != w.wrote || fs.WroteAt.IsZero()) {
					continue // settled or written again meanwhile
				}
				if check && newer(fs.At, w.at) {
					continue
				}
				fs.At, fs.Hash, fs.Seen, fs.WroteAt = w.at, w.hash, time.Time{}, time.Time{}
				fs.Wrote = addWrote(fs.Wrote, w.wrote)
				if now.After(fs.Sent) {
					fs.Sent = now
				}
				fields[f] = fs
			}
		}
		if r.ledger.Fields == nil {
			r.ledger.Fields = map[string]FieldStamp{}
		}
		apply(r.ledger.Fields, false)
		st.updateLedger(ru.r.To.Vendor, ru.r.To.Entity, r.Key, func(entry LedgerEntry) (LedgerEntry, bool) {
			entry = withFields(entry)
			apply(entry.Fields, true)
			entry.ContentHash = ledgerHash(entry.Fields)
			return entry, true
		})
	}
	if len(st.ledger) == 0 {
		return nil
	}
	// Nothing of the batch is written yet: a failure sends it back whole.
	if err := ru.state.PutLedgers(ctx, st.ledger); err != nil {
		return fmt.Errorf("route %s: settle writes read back: %w: %w", ru.r.Name, errState, err)
	}
	return nil
}

// editedAtTarget returns the fields of earlier that the target, read back
// as current (nil: it has no such record), holds changed since an earlier
// write that landed: neither the value sent, nor the one known before, nor
// one crmsync wrote before it. None when the record shows the write did
// not land: some field holds the value known before or an earlier write of
// crmsync's (the value known before may date from before that write
// settled), none the value sent; or the target says it last
// changed the record before the write was sent (ReadModified, more than a
// second before: vendors stamp to the second), so what it holds is older
// than the write, whatever the ledger last knew of it.
func editedAtTarget(earlier map[string]earlierWrite, current map[string]string) []string {
	if current == nil {
		return nil
	}
	if modified, err := time.Parse(time.RFC3339Nano, current[ReadModified]); err == nil {
		for _, w := range earlier {
			if !w.sent.IsZero() && modified.Before(w.sent.Add(-time.Second)) {
				return nil
			}
		}
	}
	var edited []string
	landed, notLanded := false, false
	for f, w := range earlier {
		v, ok := current[f]
		if !ok {
			continue // a field the target does not show
		}
		h := ValueHash(v)
		wasPrev := h == w.prev || (w.prev == "" && h == emptyHash) ||
			slices.ContainsFunc(w.before, func(b string) bool { return strings.HasSuffix(b, ":"+h) })
		sentPrev := w.hash == w.prev || (w.prev == "" && w.hash == emptyHash)
		switch {
		case h == w.hash:
			if !sentPrev {
				landed = true
			}
		case wasPrev:
			notLanded = true
		default:
			edited = append(edited, f)
		}
	}
	if notLanded && !landed {
		return nil
	}
	return edited
}

// holdsSent returns the fields of earlier that the target, read back as
// current (nil: it has no such record), holds with the value sent.
func holdsSent(earlier map[string]earlierWrite, current map[string]string) []string {
	var out []string
	for f, w := range earlier {
		if v, ok := current[f]; ok && ValueHash(v) == w.hash {
			out = append(out, f)
		}
	}
	return out
}

// readBack reads recs from the target. A failure that may heal (a
// transport error, 5xx, a rate limit: apierr.Temporary) is retried with
// the route's backoff until the record is read: a record whose write may
// have landed is never written again blind, since a user may have edited
// it at the target since, and only a read tells. After a failed read of
// several records, each is read on its own, so that one failing request
// does not leave the whole batch unread (under a vendor's error rate, a
// batch read one record at a time almost never succeeds whole), and only
// those still unread are read again.
//
// A record whose read is refused for good (refused credentials, a spent
// quota, a request the vendor refuses: no backoff heals it) is nil in the
// result, like one the target does not hold: it is written as it is, and
// the write meets the refusal itself if it is the account's. The error is
// returned when no record could be read for that reason, or, wrapping
// errStopped, when the route stops or its backoff gives up before every
// record is read: nothing of the batch is written then, and the bus
// delivers it again.
func (ru *Runner) readBack(ctx context.Context, stopping <-chan struct{}, reader TargetReader, recs []*Record) ([]map[string]string, error) {
	current := make([]map[string]string, len(recs))
	todo := make([]int, len(recs))
	for i := range todo {
		todo[i] = i
	}
	read := func(idx []int) error {
		batch := make([]*Record, len(idx))
		for j, i := range idx {
			batch[j] = recs[i]
		}
		got, err := reader.Read(ctx, batch)
		if err == nil && len(got) != len(batch) {
			err = errors.New("the target's read answered a different number of records")
		}
		if err != nil {
			return err
		}
		for j, i := range idx {
			current[i] = got[j]
		}
		return nil
	}
	var bo backoff.BackOff
	refused := 0 // records whose read is refused for good
	var refusal error
	for {
		err := read(todo)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: reading back records: %w", errStopped, ctx.Err())
		}
		if errors.Is(err, ErrNoReader) {
			return nil, err
		}
		failed := map[int]error{todo[0]: err}
		if len(todo) > 1 {
			failed = map[int]error{}
			for _, i := range todo {
				if e := read([]int{i}); e != nil {
					failed[i] = e
				}
			}
		}
		todo = todo[:0]
		var lastErr error
		for _, i := range slices.Sorted(maps.Keys(failed)) {
			if e := failed[i]; !apierr.Temporary(e) {
				refused++
				refusal = e
				continue
			}
			todo = append(todo, i)
			lastErr = failed[i]
		}
		if len(todo) == 0 {
			break
		}
		if bo == nil {
			bo = ru.newBackOff()
		}
		d := bo.NextBackOff()
		if d == backoff.Stop {
			return nil, fmt.Errorf("%w: reading back %d records: giving up: %w", errStopped, len(todo), lastErr)
		}
		var ra *RetryAfterError
		if errors.As(lastErr, &ra) {
			d = max(d, ra.After)
		}
		ru.log.Info("could not read back records whose write may have landed; reading them again before writing",
			"records", len(todo), "in", d.Round(time.Millisecond), "err", lastErr)
		if !sleepUntil(ctx, stopping, d) {
			return nil, fmt.Errorf("%w: while reading back %d records: %w", errStopped, len(todo), lastErr)
		}
	}
	switch {
	case refused == len(recs):
		return nil, refusal
	case refused > 0:
		ru.log.Warn("the target refused to read back some records whose earlier write may have landed; writing them as they are",
			"records", refused, "of", len(recs), "err", refusal)
	}
	return current, nil
}
