package pipeline

import (
	"strings"
	"time"
)

// fieldTimes returns, per target field of it, the time of the change at the
// source that produced its value, for the fields whose source fields the
// source reports unchanged: sources report whole records (LeadExec delivers
// the whole lead on every edit, pollers read whole records), and a value
// the source held before is no change made at the event's time. Without
// this, an edit of one field at the source would carry every other field
// along with the new time and overwrite newer edits made to them in the
// target.
//
// A source field is unchanged when the source ledger knows it with the
// same value, changed earlier than the event. A target field made only
// from unchanged source fields gets the latest of their change times;
// every other field keeps the event's time (nil: every field does). Which
// target fields a source field makes is found by mapping the event without
// it; when that mapping fails, the field's change time counts for every
// target field (the later time is the safe side).
//
// fields are the target fields the event is to write (none: nothing to
// time). earlier holds the source values of the record's earlier events in
// the same batch: a field that changed within the batch is no unchanged
// field, even when it changed back to what the ledger knows.
//
// stale lists target fields made from several source fields, one of them
// unchanged and behind (see behind): such a field would carry an old part
// along with the others, and is left to the route from the vendor that
// holds the part's newer value.
func (ru *Runner) fieldTimes(it pending, known LedgerEntry, earlier, fields map[string]string) (times map[string]time.Time, stale map[string]bool) {
	src, at := it.mapped.SourceFields, it.ev.ChangedAt
	if len(src) == 0 || len(known.Fields) == 0 || len(fields) == 0 {
		return nil, nil
	}
	old := map[string]time.Time{}
	for f, v := range src {
		st, ok := known.Fields[f]
		if e, seen := earlier[f]; seen && e != v {
			continue
		}
		h := ValueHash(v)
		if ok && st.Hash == h && newer(at, st.At) {
			old[f] = st.At
		} else if t, unsettled := unsettledWrite(st, h); ok && unsettled && newer(at, t) {
			// crmsync's write of the value, reported before it settled.
			old[f] = t
		}
	}
	if len(old) == 0 {
		return nil, nil
	}
	without := func(keep func(f string) bool) (map[string]string, bool) {
		ev := it.ev
		ev.Fields = make(map[string]string, len(it.ev.Fields))
		for f, v := range it.ev.Fields {
			if keep(f) {
				ev.Fields[f] = v
			}
		}
		mp, err := ru.r.Mapper.Map(ev)
		return mp.Fields, err == nil
	}
	full := it.mapped.Fields
	// Target fields that a changed source field takes part in keep the
	// event's time: they differ when only the unchanged fields are mapped.
	onlyOld, ok := without(func(f string) bool { _, o := old[f]; return o })
	if !ok {
		return nil, nil
	}
	times, stale = map[string]time.Time{}, map[string]bool{}
	changed := map[string]bool{}
	for f, v := range full {
		if w, ok := onlyOld[f]; !ok || w != v {
			changed[f] = true
		}
	}
	var unknown time.Time // the latest change of a field whose part is unknown
	for sf, t := range old {
		rest, ok := without(func(f string) bool { return f != sf })
		if !ok {
			if t.After(unknown) {
				unknown = t
			}
			continue
		}
		for f, v := range full {
			if w, ok := rest[f]; ok && w == v {
				continue // not made from sf
			}
			if changed[f] {
				// A part of f, not what identifies the record: without sf,
				// f is still made, only differently.
				if w, ok := rest[f]; ok && w != v && behind(known.Fields[sf]) {
					stale[f] = true
				}
				continue
			}
			if w, ok := rest[f]; ok && w != v && behind(known.Fields[sf]) {
				// Made of unchanged parts, one of them behind (Getlead's
				// name from LeadExec's first name, which never took the
				// newer one crmsync sent): dated by its newest part, it
				// would carry the old part over a newer value.
				stale[f] = true
				continue
			}
			if cur, seen := times[f]; !seen || t.After(cur) {
				times[f] = t
			}
		}
	}
	for f, t := range times {
		if unknown.After(t) {
			times[f] = unknown // it may be made from that field too
		}
	}
	return times, stale
}

// behind reports whether the source holds a field's value that is older
// than what crmsync last wrote into it: the write did not take (LeadExec
// takes no lead update) and no change made at the source since replaced it.
func behind(st FieldStamp) bool {
	n := len(st.Wrote)
	if n == 0 || strings.HasSuffix(st.Wrote[n-1], ":"+st.Hash) {
		return false
	}
	return !newer(st.At, st.Sent)
}
