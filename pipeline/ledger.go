package pipeline

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"
)

// markIntended records, before anything is sent, the values about to be
// written as crmsync's own (FieldStamp.Wrote): the target's poller may
// report them before the batch is settled, and must then already be
// recognised as an echo.
func (ru *Runner) markIntended(ctx context.Context, recs []*Record, todo []int) error {
	if len(todo) == 0 {
		return nil
	}
	var st settlement
	now := ru.now()
	for _, i := range todo {
		r := recs[i]
		wrote := make(map[string]string, len(r.Fields))
		for f, v := range r.Fields {
			wrote[f] = wroteMark(ru.srcVendor, v)
		}
		ru.updateRecord(&st, r, func(fields map[string]FieldStamp) bool {
			for f, w := range wrote {
				fs := fields[f]
				if len(fs.Wrote) == 0 || fs.Wrote[len(fs.Wrote)-1] != w || fs.Sent.IsZero() {
					// A new write (not a retry of the last one): what the
					// field holds until it lands.
					fs.Prev = fs.Hash
				}
				fs.Wrote = addWrote(fs.Wrote, w)
				if now.After(fs.Sent) {
					fs.Sent = now
				}
				if fs.Hash != w[len(ru.srcVendor)+1:] {
					fs.WroteAt = r.Stamps[f]
				}
				fields[f] = fs
			}
			return true
		})
	}
	return ru.state.PutLedgers(ctx, st.ledger)
}

// wroteMark is how FieldStamp.Wrote names crmsync's write of value v from
// vendor: "<vendor>:<ValueHash(v)>".
func wroteMark(vendor, v string) string {
	var buf [64]byte
	b := append(buf[:0], vendor...)
	b = append(b, ':')
	return string(appendValueHash(b, v))
}

// addWrote returns a new list: wrote without w, then w. wrote may be shared
// with an entry the caller does not own.
func addWrote(wrote []string, w string) []string {
	out := make([]string, 0, len(wrote)+1)
	for _, x := range wrote {
		if x != w {
			out = append(out, x)
		}
	}
	out = append(out, w)
	if len(out) > MaxWrote {
		out = out[len(out)-MaxWrote:]
	}
	return out
}

// withoutEchoes returns the target fields of an event, leaving out the
// source fields that carry no change made at the source:
//
//   - values the target itself gave the source (crmsync's own writes coming
//     back, possibly late and stamped with the source's newer change time):
//     they must never turn the target back to an older value;
//   - the value a field held before crmsync's latest write of it, reported
//     no later than that write was sent (FieldStamp.Sent): a poll read the
//     record before the write landed, and the write replaces it;
//   - empty values of a field the source never reported before (no stamp
//     in the ledger, no value earlier in this batch): vendors report a
//     field without a value in their own form
//     (iVvy "" for a lead without a description, null or absent
//     elsewhere), and that is not a user clearing it. A user who empties a
//     field that held a value was seen with that value, and the clear is
//     written. So is one of a field crmsync last wrote a value into, in
//     the target, from this source (target, the target's ledger entry):
//     the source held that value, even if the report of it never reached
//     the source's ledger (its write never settled, and the report was
//     then older than what another route of the source had settled).
//
// The rule lives here, not in each source: only the ledger knows, per
// field, what the source held, from its reports and from crmsync's writes
// into it, and a source reporting a record for the first time cannot tell
// its "no value" from a clear.
//
// clears are the source fields whose empty value is taken for a clear
// only because of what crmsync wrote into the target (see clearsAWrite):
// the source's ledger still holds their "no value", undated.
//
// dated is the earliest change time the ledger gives a field left out for
// carrying crmsync's write (zero when none): the values left out date from
// no later than that, whatever the clock of the report that carried them.
func (ru *Runner) withoutEchoes(it pending, known, target LedgerEntry, held map[string]bool) (fields map[string]string, dated time.Time, clears []string) {
	src := it.mapped.SourceFields
	if len(src) == 0 {
		return it.mapped.Fields, time.Time{}, nil
	}
	echo := map[string]bool{}
	stale := false // a field left out is behind crmsync's latest write
	date := func(st FieldStamp) {
		at := st.At
		if !st.WroteAt.IsZero() {
			at = st.WroteAt // the change a write still on its way carries
		}
		if !at.IsZero() && (dated.IsZero() || at.Before(dated)) {
			dated = at
		}
	}
	for f, v := range src {
		st := known.Fields[f]
		switch {
		case readBeforeWrite(st, it.ev.ChangedAt, ValueHash(v)):
			// Reported as it was before crmsync's latest write of the
			// field (a poll that read the record while the write was on
			// its way): the write replaces it.
			echo[f], stale = true, true
			date(st)
		case v == "" && neverReported(known, f, held):
			if ru.clearsAWrite(it, f, target) {
				clears = append(clears, f)
				continue
			}
			echo[f] = true
		case echoOfWrite(st, ru.r.To.Vendor, ValueHash(v), it.ev.ChangedAt):
			echo[f] = true
			date(st)
		}
	}
	switch {
	case len(echo) == 0:
		return it.mapped.Fields, time.Time{}, clears
	case len(echo) == len(src):
		ru.log.Debug("event not written: no field carries a change made at the source", "event", it.ev.ID)
		return nil, dated, nil
	}
	ru.log.Debug("fields left out: they carry crmsync's own earlier writes or an empty value never set", "event", it.ev.ID, "fields", len(echo))
	ev := it.ev
	ev.Fields = make(map[string]string, len(it.ev.Fields))
	for f, v := range it.ev.Fields {
		if !echo[f] {
			ev.Fields[f] = v
		}
	}
	mp, err := ru.r.Mapper.Map(ev)
	if err != nil {
		return it.mapped.Fields, time.Time{}, clears
	}
	// A target field made from several source fields (Getlead's one name
	// from first and last name) comes out of the shortened event without
	// the left-out part. It is never written truncated: whole, when the
	// parts left out hold what the target holds (its own values, or an
	// empty value never set); not at all when a part is behind crmsync's
	// latest write.
	for f, v := range mp.Fields {
		if full, ok := it.mapped.Fields[f]; ok && full != v {
			if stale {
				delete(mp.Fields, f)
			} else {
				mp.Fields[f] = full
			}
		}
	}
	return mp.Fields, dated, clears
}

// clearsAWrite reports whether the event's empty source field f empties a
// target field whose latest value crmsync wrote from this source was not
// empty (target is the target's ledger entry of the record): the field
// feeds a target field the event empties (it leaves it out without f).
func (ru *Runner) clearsAWrite(it pending, f string, target LedgerEntry) bool {
	var filled []string
	for tf, v := range it.mapped.Fields {
		if v == "" && lastWriteFilled(target.Fields[tf], ru.srcVendor) {
			filled = append(filled, tf)
		}
	}
	if len(filled) == 0 {
		return false
	}
	ev := it.ev
	ev.Fields = maps.Clone(it.ev.Fields)
	delete(ev.Fields, f)
	mp, err := ru.r.Mapper.Map(ev)
	if err != nil {
		return false
	}
	for _, tf := range filled {
		if _, ok := mp.Fields[tf]; !ok {
			return true
		}
	}
	return false
}

// asClears returns known with the "no value" stamps of fields turned into
// clears (asClear, as applyReport does once an older report shows a
// value): the change time of their empty value, for fieldTimes.
func asClears(known LedgerEntry, fields []string) LedgerEntry {
	if len(fields) == 0 {
		return known
	}
	known.Fields = maps.Clone(known.Fields)
	for _, f := range fields {
		if st, ok := known.Fields[f]; ok && noValue(st) {
			known.Fields[f] = asClear(st)
		}
	}
	return known
}

// lastWriteFilled reports whether crmsync's latest write into the field of
// a value from vendor filled it: wrote something other than an empty value.
func lastWriteFilled(st FieldStamp, vendor string) bool {
	for i := len(st.Wrote) - 1; i >= 0; i-- {
		if from, h, _ := strings.Cut(st.Wrote[i], ":"); from == vendor {
			return h != emptyHash
		}
	}
	return false
}

// neverReported reports whether a source field was never seen holding
// anything: the ledger knows no value of it but its "no value" (no stamp,
// or one recorded without a change time from such a report: see
// settleSource) and no earlier event of the same batch held a value in it.
// A clear is stamped with its time: the source ledger is shared by every
// route from the source, and another route may already have recorded the
// very clear this route is about to write; that still counts.
func neverReported(known LedgerEntry, f string, held map[string]bool) bool {
	if st, ok := known.Fields[f]; ok && (!st.At.IsZero() || heldSomething(st)) {
		return false
	}
	return !held[f]
}

var emptyHash = ValueHash("")

// staleAtSource reports whether the source is known to have changed every
// field of an event after the event's change time: the event arrived out of
// order and must not overwrite anything.
func staleAtSource(known LedgerEntry, fields map[string]string, at time.Time) bool {
	if len(fields) == 0 || len(known.Fields) == 0 {
		return false
	}
	for f := range fields {
		st, ok := known.Fields[f]
		if !ok || !newer(lastSeen(st), at) {
			return false
		}
	}
	return true
}

// lastSeen is the latest time at which the source is known to have held
// the field's value.
func lastSeen(st FieldStamp) time.Time {
	if st.Seen.After(st.At) {
		return st.Seen
	}
	return st.At
}

// newer reports whether a is a later change than b. Vendors stamp changes
// to the second (SharpSpring's updateTimestamp, iVvy's modifiedDate) while
// webhook receipts carry sub-second times. Two sub-second times (two
// deliveries, one redelivered after the other was written) are compared
// exactly; otherwise changes within the same second are not ordered and the
// later event wins.
func newer(a, b time.Time) bool {
	if a.Nanosecond() != 0 && b.Nanosecond() != 0 {
		return a.After(b)
	}
	return a.Truncate(time.Second).After(b.Truncate(time.Second))
}

// echoOfWrite reports whether a report stamped at, showing the value with
// hash h, is crmsync's own write of that value coming back (from vendor
// from, or from any vendor when from is ""): the latest value crmsync wrote
// into the field, or an earlier one reported no later than the latest write
// was sent (read before it landed; vendors stamp to the second, so the same
// second counts), unless the vendor was seen holding the latest write
// before the report. An earlier written value reported after that is a user
// setting the field back to it, a change made at the vendor: clearing a
// field crmsync once wrote empty, say. So is the latest written value once
// the vendor was known to hold another value by a change made there after
// that write was sent, or once another route from the same source recorded
// this report of it as such a change (recordedAsChange).
//
// A value crmsync wrote more than once, from different vendors, comes from
// the latest of those writes: reported back, it is no echo of an earlier
// write from another vendor, which still needs the value when it changed
// the field since.
func echoOfWrite(st FieldStamp, from, h string, at time.Time) bool {
	for i := len(st.Wrote) - 1; i >= 0; i-- {
		w := st.Wrote[i]
		if !strings.HasSuffix(w, ":"+h) {
			continue
		}
		if from != "" && w != from+":"+h {
			return false
		}
		if i == len(st.Wrote)-1 {
			return !changedSinceWrite(st, h) && !recordedAsChange(st, h, at)
		}
		return st.Sent.IsZero() || !newer(at, st.Sent) && !seenLanded(st, at)
	}
	return false
}

// changedSinceWrite reports whether the vendor is known to hold a value
// other than h, crmsync's latest write, because of a change made there
// after the write was sent: the ledger's value dates from after Sent and
// is no echo (Seen is zero, or the value is none crmsync wrote: a change
// made there and reported again, when another field changed, keeps its
// change time and is still that change).
func changedSinceWrite(st FieldStamp, h string) bool {
	if st.Hash == "" || st.Hash == h || st.Sent.IsZero() || !newer(st.At, st.Sent) {
		return false
	}
	return st.Seen.IsZero() || !slices.ContainsFunc(st.Wrote, func(w string) bool { return strings.HasSuffix(w, ":"+st.Hash) })
}

// recordedAsChange reports whether the ledger already holds the value with
// hash h as a change made at the vendor after crmsync's latest write was
// sent, reported no earlier than at: another route from the same source
// settled this very report (or a later one) as a change, and the routes
// share the source's ledger. The value is crmsync's latest write, but set
// again at the vendor: no echo, for this route either.
func recordedAsChange(st FieldStamp, h string, at time.Time) bool {
	return st.Hash == h && st.Seen.IsZero() && !st.Sent.IsZero() && newer(st.At, st.Sent) && !newer(at, st.At)
}

func ledgerHash(fields map[string]FieldStamp) string {
	return sortedHash(fields, func(st FieldStamp) string { return st.Hash })
}
