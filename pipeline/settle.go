package pipeline

import (
	"strings"
	"time"
)

// settlement is what one batch writes into the state when it settles, in
// order.
type settlement struct {
	links  []Link
	ledger []LedgerPut
}

func (st *settlement) link(canonicalID string, k Key) {
	st.links = append(st.links, Link{CanonicalID: canonicalID, Key: k})
}

// updateLedger adds a read-modify-write of one ledger entry: fn gets the
// entry as stored when the settlement is stored, so that what another route
// settled meanwhile is kept (see LedgerPut.Update).
func (st *settlement) updateLedger(vendor, entity, key string, fn func(stored LedgerEntry) (LedgerEntry, bool)) {
	st.ledger = append(st.ledger, LedgerPut{Vendor: vendor, Entity: entity, Key: key, Update: fn})
}

// updateRecord applies fn to the ledger entry the route read for r at
// once, and adds an update that applies it to the entry as stored when the
// settlement is stored (see updateLedger); fn reports whether it changed
// anything.
func (ru *Runner) updateRecord(st *settlement, r *Record, fn func(fields map[string]FieldStamp) bool) {
	if r.ledger.Fields == nil {
		r.ledger.Fields = make(map[string]FieldStamp, len(r.Fields))
	}
	fn(r.ledger.Fields)
	st.updateLedger(ru.r.To.Vendor, ru.r.To.Entity, r.Key, func(entry LedgerEntry) (LedgerEntry, bool) {
		entry = withFields(entry)
		return entry, fn(entry.Fields)
	})
}

// withFields returns the entry with a copy of its fields that the caller
// may change (never nil).
func withFields(e LedgerEntry) LedgerEntry {
	fields := make(map[string]FieldStamp, len(e.Fields)+4)
	for f, st := range e.Fields {
		fields[f] = st
	}
	e.Fields = fields
	return e
}

func (ru *Runner) settleWritten(st *settlement, rec *Record, o Outcome) {
	to := ru.r.To
	if o.TargetID != "" {
		st.link(rec.Key, Key{Vendor: to.Vendor, Entity: to.Entity, Kind: KindID, Value: o.TargetID})
	}
	for _, k := range o.Links {
		st.link(rec.Key, k)
	}
	if len(rec.Fields) == 0 {
		return
	}
	fields, stamps, src := rec.Fields, rec.Stamps, ru.srcVendor
	// The write is known to have landed once the sink answered: a report
	// stamped up to then may have been read while it was landing (a sink
	// that writes a record in several requests, such as iVvy's contact and
	// lead, lands them one after the other, and the vendor stamps the
	// record at the first), so Sent moves to the answer (see FieldStamp.Sent
	// and echoOfWrite). Not to the batch's settling, which can come seconds
	// later while other records are retried: a user's edit reported in
	// between is no read from before the write.
	done := o.answered
	if done.IsZero() {
		done = ru.now()
	}
	st.updateLedger(to.Vendor, to.Entity, rec.Key, func(entry LedgerEntry) (LedgerEntry, bool) {
		entry = withFields(entry)
		for f, v := range fields {
			h := ValueHash(v)
			st := entry.Fields[f]
			// A report of this very value that arrived before the write
			// settled (it landed, then its answer was retried or slow) says
			// when the vendor was seen holding it: kept, so that a later
			// report showing another value is taken for the change it is
			// (see readBeforeWrite).
			seen := time.Time{}
			if st.Hash == h {
				seen = st.Seen
			}
			st.At, st.Hash, st.Seen, st.Wrote = stamps[f], h, seen, addWrote(st.Wrote, src+":"+h)
			st.WroteAt = time.Time{}
			if done.After(st.Sent) {
				st.Sent = done
			}
			entry.Fields[f] = st
		}
		entry.ContentHash = ledgerHash(entry.Fields)
		return entry, true
	})
}

// settleSkipped ends the marks of a write the sink did not make (it
// answered Skip: LeadExec takes no lead update): the values are no longer
// on their way (FieldStamp.WroteAt), so the target reporting one of them
// later is no report of crmsync's write made before it settled, dated
// from the change it carried. Wrote and Sent keep saying crmsync sent the
// value, which tells the target is behind (see behind).
func (ru *Runner) settleSkipped(st *settlement, rec *Record) {
	marked := make(map[string]string, len(rec.Fields))
	for f, v := range rec.Fields {
		marked[f] = wroteMark(ru.srcVendor, v)
	}
	ru.endMarks(st, rec.Key, marked)
}

// endMarks ends the marks of the writes marked (field → "<vendor>:<hash>")
// of a record where the ledger still shows them on their way.
func (ru *Runner) endMarks(st *settlement, key string, marked map[string]string) {
	if len(marked) == 0 {
		return
	}
	st.updateLedger(ru.r.To.Vendor, ru.r.To.Entity, key, func(entry LedgerEntry) (LedgerEntry, bool) {
		entry = withFields(entry)
		changed := false
		for f, w := range marked {
			fs, ok := entry.Fields[f]
			if n := len(fs.Wrote); !ok || fs.WroteAt.IsZero() || n == 0 || fs.Wrote[n-1] != w {
				continue
			}
			fs.WroteAt = time.Time{}
			entry.Fields[f] = fs
			changed = true
		}
		return entry, changed
	})
}

// settleSource records what the source record holds now, so that the
// reverse route recognises it as known and does not write it back. The
// batch's reports of the record are applied one after the other, oldest
// first, as the batch judged them (see coalesce): one that showed
// crmsync's write landed tells what a later one showing another value is.
func (ru *Runner) settleSource(st *settlement, rec *Record) {
	reports := rec.reports
	if len(reports) == 0 {
		if len(rec.source) == 0 {
			return
		}
		reports = []sourceReport{{fields: rec.source, stamps: rec.sourceStamps, held: rec.sourceHeld}}
	}
	st.updateLedger(ru.srcVendor, ru.srcEntity, rec.Key, func(entry LedgerEntry) (LedgerEntry, bool) {
		entry = withFields(entry)
		changed := false
		for _, rp := range reports {
			if applyReport(entry.Fields, rp) {
				changed = true
			}
		}
		if !changed {
			return entry, false
		}
		entry.ContentHash = ledgerHash(entry.Fields)
		return entry, true
	})
}

// sourceReport is one event's report of its source record: the source
// fields, the time of each, and the fields that held a value in an earlier
// event of the batch.
type sourceReport struct {
	fields map[string]string
	stamps map[string]time.Time
	held   map[string]bool
}

// applyReport records a source report in the source's ledger fields and
// reports whether anything changed.
func applyReport(fields map[string]FieldStamp, rp sourceReport) bool {
	changed := false
	for f, v := range rp.fields {
		at := rp.stamps[f]
		st, known := fields[f]
		if known && lastSeen(st).After(at) {
			if v != "" && noValue(st) {
				// An older report shows a value in a field a later report
				// showed empty, taken then for the source's "no value"
				// (another route of the source settled the later report
				// first). The field held something, so the empty report
				// was a clear, made no later than it was seen.
				fields[f] = asClear(st)
				changed = true
			}
			continue
		}
		h := ValueHash(v)
		if known && readBeforeWrite(st, at, h) {
			// Reported as it was before crmsync's latest write of the
			// field, which replaces it (or is still on its way).
			continue
		}
		if known && st.Hash == h && st.Seen.IsZero() && at.Equal(st.At) {
			// The very report that recorded the change, settled again:
			// by the source's other routes (they share its entries), or
			// redelivered. Still the change itself, not an echo of it,
			// nor, for a clear, an empty field never known to hold
			// anything (the value it held before is no longer in the
			// entry).
			continue
		}
		if v == "" && !heldSomething(st) && !rp.held[f] {
			// An empty field the source was never known to hold
			// anything in (not even earlier in this batch): its own form
			// of "no value" (see withoutEchoes), reported with the
			// record's change time, which is often crmsync's own write
			// of other fields. It is known now, but stamped as no
			// change, so that an edit made elsewhere before that time
			// still reaches the field.
			if !known || st.Hash != h || !st.Seen.Equal(at) {
				st.Seen, st.Hash = at, h
				fields[f] = st
				changed = true
			}
			continue
		}
		if known && (st.Hash == h || echoOfWrite(st, "", h, at)) {
			// The source reports a value crmsync already knows or wrote
			// itself: not a change made at the source's (later) clock.
			// The field keeps the time of the change that produced the
			// value, so that a later change from elsewhere, delayed on
			// its way, still wins over the echo; Seen keeps the source's
			// clock for ordering the source's own events.
			if t, ok := unsettledWrite(st, h); ok {
				// crmsync's latest write, reported before it settled:
				// its value dates from the change it carries.
				st.At = t
			}
			if st.Hash != h || !st.Seen.Equal(at) {
				st.Seen, st.Hash = at, h
				fields[f] = st
				changed = true
			}
			continue
		}
		st.At, st.Seen, st.Hash = at, time.Time{}, h
		fields[f] = st
		changed = true
	}
	return changed
}

// readBeforeWrite reports whether a report stamped at, showing the value
// with hash h, shows the field as it was before crmsync's latest write of
// it (see FieldStamp.Sent): it was read no later than the write was sent
// (vendors stamp to the second, so the same second counts), and it shows the
// value known before the write, or one crmsync wrote earlier (a write that
// landed without being settled: the process stopped, and the write after
// the restart replaces it), not the written one. A value never known
// before is a change made at the vendor, even in the same second; so is
// any value reported after the vendor was seen holding the written one
// (Seen).
func readBeforeWrite(st FieldStamp, at time.Time, h string) bool {
	n := len(st.Wrote)
	if st.Sent.IsZero() || newer(at, st.Sent) || n == 0 {
		return false
	}
	if strings.HasSuffix(st.Wrote[n-1], ":"+h) {
		return false // the write itself
	}
	if seenLanded(st, at) {
		return false
	}
	if h == st.Prev || (st.Prev == "" && h == emptyHash) {
		return true
	}
	for _, w := range st.Wrote[:n-1] {
		if strings.HasSuffix(w, ":"+h) {
			return true
		}
	}
	return false
}

// seenLanded reports whether the vendor reported the value of crmsync's
// latest write of a field (at Seen) before at: the write had landed, and a
// report at at showing something else is a change made after it, however
// close to the write's last retry.
func seenLanded(st FieldStamp, at time.Time) bool {
	n := len(st.Wrote)
	return n > 0 && !st.Seen.IsZero() && strings.HasSuffix(st.Wrote[n-1], ":"+st.Hash) && newer(at, st.Seen)
}

// heldSomething reports whether a field is known to have held a value: its
// last known value, or one crmsync wrote into it, is not empty. A write
// sent and never settled does not count: the process may have stopped
// before it landed (and if it did land, the vendor reports its value, not
// an empty one).
func heldSomething(st FieldStamp) bool {
	if st.Hash != "" && st.Hash != emptyHash {
		return true
	}
	wrote := st.Wrote
	if n := len(wrote); n > 0 && !st.WroteAt.IsZero() && !strings.HasSuffix(wrote[n-1], ":"+st.Hash) {
		wrote = wrote[:n-1]
	}
	for _, w := range wrote {
		if !strings.HasSuffix(w, ":"+emptyHash) {
			return true
		}
	}
	return false
}

// asClear returns a "no value" stamp (see noValue) as the clear it turned
// out to be once the field is known to have held a value: made no later
// than the empty value was seen.
func asClear(st FieldStamp) FieldStamp {
	st.At, st.Seen = st.Seen, time.Time{}
	return st
}

// noValue reports whether a field's stamp is an empty value recorded as
// the source's form of "no value" (see applyReport), not as a change.
func noValue(st FieldStamp) bool {
	return st.At.IsZero() && !st.Seen.IsZero() && st.Hash == emptyHash && !heldSomething(st)
}

// unsettledWrite reports whether the value with hash h is that of
// crmsync's latest write of the field, sent and not yet settled, and if so
// the time of the change it carries (FieldStamp.WroteAt).
func unsettledWrite(st FieldStamp, h string) (time.Time, bool) {
	n := len(st.Wrote)
	if st.WroteAt.IsZero() || st.Hash == h || n == 0 || !strings.HasSuffix(st.Wrote[n-1], ":"+h) {
		return time.Time{}, false
	}
	return st.WroteAt, true
}
