package pipeline

import "strings"

// settlement is what one batch writes into the state when it settles, in
// order.
type settlement struct {
	links  []Link
	ledger []LedgerPut
}

func (st *settlement) link(canonicalID string, k Key) {
	st.links = append(st.links, Link{CanonicalID: canonicalID, Key: k})
}

func (st *settlement) putLedger(vendor, entity, key string, e LedgerEntry) {
	st.ledger = append(st.ledger, LedgerPut{Vendor: vendor, Entity: entity, Key: key, Entry: e})
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
	entry := rec.ledger
	if entry.Fields == nil {
		entry.Fields = map[string]FieldStamp{}
	}
	for f, v := range rec.Fields {
		h := ValueHash(v)
		entry.Fields[f] = FieldStamp{At: rec.Stamps[f], Hash: h, Wrote: addWrote(entry.Fields[f].Wrote, ru.srcVendor+":"+h),
			Pending: entry.Fields[f].Pending}
	}
	entry.ContentHash = ledgerHash(entry.Fields)
	st.putLedger(to.Vendor, to.Entity, rec.Key, entry)
}

// settleSource records what the source record holds now, so that the
// reverse route recognises it as known and does not write it back.
func (ru *Runner) settleSource(st *settlement, rec *Record) {
	if len(rec.source) == 0 {
		return
	}
	entry := rec.sourceLedger
	fields := make(map[string]FieldStamp, len(entry.Fields)+len(rec.source))
	for f, st := range entry.Fields {
		fields[f] = st
	}
	changed := false
	for f, v := range rec.source {
		at := rec.sourceStamps[f]
		st, known := fields[f]
		if known && lastSeen(st).After(at) {
			continue
		}
		h := ValueHash(v)
		if v == "" && !heldSomething(st) {
			// An empty field the source was never known to hold anything
			// in: its own form of "no value" (see withoutEchoes), reported
			// with the record's change time, which is often crmsync's own
			// write of other fields. It is known now, but stamped as no
			// change, so that an edit made elsewhere before that time still
			// reaches the field.
			if !known || st.Hash != h || !st.Seen.Equal(at) {
				fields[f] = FieldStamp{At: st.At, Seen: at, Hash: h, Wrote: st.Wrote, Pending: st.Pending}
				changed = true
			}
			continue
		}
		if known && (st.Hash == h || wroteValue(st.Wrote, h)) {
			// The source reports a value crmsync already knows or wrote
			// itself: not a change made at the source's (later) clock. The
			// field keeps the time of the change that produced the value,
			// so that a later change from elsewhere, delayed on its way,
			// still wins over the echo; Seen keeps the source's clock for
			// ordering the source's own events.
			if st.Hash != h || !st.Seen.Equal(at) {
				fields[f] = FieldStamp{At: st.At, Seen: at, Hash: h, Wrote: st.Wrote, Pending: st.Pending}
				changed = true
			}
			continue
		}
		fields[f] = FieldStamp{At: at, Hash: h, Wrote: st.Wrote, Pending: st.Pending}
		changed = true
	}
	if !changed {
		return
	}
	entry.Fields = fields
	entry.ContentHash = ledgerHash(fields)
	st.putLedger(ru.srcVendor, ru.srcEntity, rec.Key, entry)
}

// heldSomething reports whether a field is known to have held a value: its
// last known value, or one crmsync wrote into it, is not empty.
func heldSomething(st FieldStamp) bool {
	if st.Hash != "" && st.Hash != emptyHash {
		return true
	}
	for _, w := range st.Wrote {
		if !strings.HasSuffix(w, ":"+emptyHash) {
			return true
		}
	}
	return false
}
