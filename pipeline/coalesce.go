package pipeline

import (
	"context"
	"maps"
	"sort"
	"time"
)

// coalesce merges the events of each record, newest value per field, and
// drops fields that are older than, or the same as, what was last written.
func (ru *Runner) coalesce(ctx context.Context, items []pending, redo bool) ([]*Record, error) {
	return ru.coalesceFor(ctx, items, true, !redo)
}

// coalesceFor is coalesce; with dropSame false, fields equal to what the
// ledger says was written are kept (replays compare with the target itself);
// with echoes false, values the target gave the source are kept too
// (retries and replays send known events again on purpose).
func (ru *Runner) coalesceFor(ctx context.Context, items []pending, dropSame, echoes bool) ([]*Record, error) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if !a.ev.ChangedAt.Equal(b.ev.ChangedAt) {
			return a.ev.ChangedAt.Before(b.ev.ChangedAt)
		}
		return a.seq < b.seq
	})
	var keys []string
	seen := map[string]bool{}
	for _, it := range items {
		if !seen[it.key] {
			seen[it.key] = true
			keys = append(keys, it.key)
		}
	}
	srcLedger, err := ru.state.Ledger(ctx, ru.srcVendor, ru.srcEntity, keys)
	if err != nil {
		return nil, err
	}
	ledger, err := ru.state.Ledger(ctx, ru.r.To.Vendor, ru.r.To.Entity, keys)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*Record{}
	// view is the source ledger as the batch's earlier events of a record
	// leave it: a report that showed crmsync's write landed tells what a
	// later one in the same batch showing another value is (a change made
	// after it, not a read from before it).
	view := map[string]LedgerEntry{}
	var order []string
	for _, it := range items {
		r := byKey[it.key]
		if r == nil {
			n := len(it.mapped.Fields)
			r = &Record{Key: it.key, Fields: make(map[string]string, n), Stamps: make(map[string]time.Time, n),
				NaturalKeys: make(map[string]string, len(it.mapped.NaturalKeys))}
			byKey[it.key] = r
			order = append(order, it.key)
		}
		r.EventIDs = append(r.EventIDs, it.ev.ID)
		at := it.ev.ChangedAt
		if staleAtSource(srcLedger[it.key], it.mapped.SourceFields, at) {
			ru.log.Debug("dropping an event older than what its source already holds", "event", it.ev.ID)
			continue
		}
		fields := it.mapped.Fields
		known, ok := view[it.key]
		if !ok {
			known = srcLedger[it.key]
		}
		srcKnown := srcLedger[it.key]
		if echoes {
			var dated time.Time
			var clears []string
			fields, dated, clears = ru.withoutEchoes(it, known, ledger[it.key], r.sourceHeld)
			srcKnown = asClears(srcKnown, clears)
			// A value left out dates from the change that produced it, no
			// later than what the ledger gives the fields left out: a
			// report's clock can be later than an edit made elsewhere
			// before the report (a target stamping crmsync's write of the
			// older value to the second, after the edit), which must win.
			heldAt := at
			if !dated.IsZero() && dated.Before(at) {
				heldAt = dated
			}
			r.withhold(it.mapped.Fields, fields, heldAt)
		}
		times, stale := ru.fieldTimes(it, srcKnown, r.source, fields)
		for f, v := range fields {
			if stale[f] {
				ru.log.Debug("field not written: part of it is behind at the source", "event", it.ev.ID, "field", f)
				continue
			}
			r.Fields[f] = v
			if t, ok := times[f]; ok {
				r.Stamps[f] = t
			} else {
				r.Stamps[f] = at
			}
		}
		for f, v := range it.mapped.NaturalKeys {
			r.NaturalKeys[f] = v
		}
		for _, f := range it.mapped.CreateOnly {
			if r.createOnly == nil {
				r.createOnly = map[string]bool{}
			}
			r.createOnly[f] = true
		}
		if it.mapped.SourceFields != nil && r.source == nil {
			n := len(it.mapped.SourceFields)
			r.source, r.sourceStamps, r.sourceHeld = make(map[string]string, n), make(map[string]time.Time, n), make(map[string]bool, n)
		}
		if len(it.mapped.SourceFields) > 0 {
			rp := sourceReport{fields: it.mapped.SourceFields, stamps: make(map[string]time.Time, len(it.mapped.SourceFields)), held: maps.Clone(r.sourceHeld)}
			for f := range it.mapped.SourceFields {
				rp.stamps[f] = at
			}
			r.reports = append(r.reports, rp)
			known = withFields(known)
			applyReport(known.Fields, rp)
			view[it.key] = known
		}
		for f, v := range it.mapped.SourceFields {
			r.source[f] = v
			r.sourceStamps[f] = at
			if v != "" {
				r.sourceHeld[f] = true
			}
		}
	}
	ids, err := ru.state.VendorKeys(ctx, ru.r.To.Vendor, ru.r.To.Entity, KindID, order)
	if err != nil {
		return nil, err
	}
	recs := make([]*Record, 0, len(order))
	for _, k := range order {
		r := byKey[k]
		r.TargetID = ids[k]
		if _, written := ledger[k]; r.TargetID == "" && !written {
			r.restoreWithheld()
		}
		if r.TargetID != "" {
			// The record exists in the target: fields another vendor owns
			// are not this source's to overwrite.
			for f := range r.createOnly {
				delete(r.Fields, f)
				delete(r.Stamps, f)
			}
		}
		if e, ok := ledger[k]; ok {
			r.ledger = e
			for f, v := range r.Fields {
				st, ok := e.Fields[f]
				if !ok {
					continue
				}
				// An older change never overwrites a newer one; the same
				// value need not be written again (this also drops what a
				// reverse route would echo back: the ledger holds what the
				// target was last seen with, too).
				if newer(st.At, r.Stamps[f]) || (dropSame && st.Hash == ValueHash(v)) {
					if newer(st.At, r.Stamps[f]) {
						ru.log.Debug("field not written: the target holds a newer change", "record", k, "field", f,
							"target_at", st.At, "event_at", r.Stamps[f])
						if w, n := wroteMark(ru.srcVendor, v), len(st.Wrote); !st.WroteAt.IsZero() && n > 0 && st.Wrote[n-1] == w {
							if r.overtaken == nil {
								r.overtaken = map[string]string{}
							}
							r.overtaken[f] = w
						}
					}
					delete(r.Fields, f)
					delete(r.Stamps, f)
				}
			}
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// withhold remembers the non-empty values of all that the echo rules left
// out of kept.
func (r *Record) withhold(all, kept map[string]string, at time.Time) {
	for f, v := range all {
		if _, ok := kept[f]; ok || v == "" {
			continue
		}
		if r.withheld == nil {
			r.withheld, r.withheldAt = map[string]string{}, map[string]time.Time{}
		}
		r.withheld[f], r.withheldAt[f] = v, at
	}
}

// restoreWithheld puts the withheld values back into a record the target
// does not have yet (no id, nothing ever written). The echo rules leave out
// values that carry no change made at the source, such as a field read
// just before crmsync's newer write of it landed; that is right for a
// record the target holds, but a record created without them would lack
// them (iVvy refuses a contact without a first name), and there is nothing
// newer at the target for them to overwrite. Their change times are the
// older ones of their events, so the newer value, once reported, wins.
func (r *Record) restoreWithheld() {
	for f, v := range r.withheld {
		if _, ok := r.Fields[f]; !ok {
			r.Fields[f], r.Stamps[f] = v, r.withheldAt[f]
		}
	}
}
