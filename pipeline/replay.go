package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// TargetReader is the optional sink capability replays need: reading the
// target's current values of records, addressed by TargetID or, when that is
// empty, by NaturalKeys. Values are returned in the target's field names; a
// record the target does not have is nil. A reader may add ReadModified.
type TargetReader interface {
	Read(ctx context.Context, recs []*Record) ([]map[string]string, error)
}

// ReadModified is the key under which a TargetReader may give, with a
// record's values, when the target last changed the record (RFC 3339, the
// target's clock). It tells a user's edit made before crmsync's write from
// one made after it, on a target nobody polls (see editedAtTarget).
const ReadModified = "@modified"

// CanRead reports whether the route's sink can read its target back
// (replays, verify and reconciliation need it).
func (ru *Runner) CanRead() bool {
	_, ok := ru.r.Sink.(TargetReader)
	return ok
}

// ErrNoReader means a route's sink cannot read its target, so it cannot
// replay.
var ErrNoReader = errors.New("the route's target cannot be read back, so it cannot be replayed")

// Diff is what a replay found different in one target record.
type Diff struct {
	Key      string               // canonical id
	TargetID string               // "" when the target does not have the record
	Missing  bool                 // the target does not have the record
	Fields   map[string][2]string // field → {current, replayed}
	// EventIDs are the replayed events behind the record.
	EventIDs []string `json:"-"`
}

// ReplayResult is what a replayed batch did (or, dry, would do).
type ReplayResult struct {
	Events  int
	Records int
	Diffs   []Diff
	Written int
	Dead    int
}

// Replay runs events through the route's map again, compares the result
// with what the target holds now (read through the sink), and writes only
// the fields that differ, unless dry. Events older than what the ledger
// knows for a field do not count: a replay never turns a newer value back
// into an older one. A dry replay writes nothing, not even to the state.
func (ru *Runner) Replay(ctx context.Context, evs []Event, dry bool) (ReplayResult, error) {
	res := ReplayResult{Events: len(evs)}
	reader, ok := ru.r.Sink.(TargetReader)
	if !ok {
		return res, ErrNoReader
	}
	var items []pending
	for _, ev := range evs {
		ev.Origin = OriginReplay
		mp, err := ru.r.Mapper.Map(ev)
		if errors.Is(err, ErrSkip) {
			continue
		}
		if err != nil {
			if dry {
				continue
			}
			items = append(items, pending{ev: ev}) // dead-lettered by Apply below
			continue
		}
		it := pending{ev: ev, mapped: mp}
		for _, k := range mp.Keys {
			if id, err := ru.state.Lookup(ctx, k); err == nil {
				it.key = id
				break
			} else if !errors.Is(err, ErrNotFound) {
				return res, err
			}
		}
		if it.key == "" {
			for _, k := range mp.Keys {
				if k.Value != "" {
					it.key = CanonicalID(k)
					break
				}
			}
		}
		items = append(items, it)
	}
	var mapped []pending
	for _, it := range items {
		if it.key != "" {
			mapped = append(mapped, it)
		}
	}
	recs, err := ru.coalesceFor(ctx, mapped, false, false)
	if err != nil {
		return res, err
	}
	res.Records = len(recs)
	current, err := reader.Read(ctx, recs)
	if err != nil {
		return res, fmt.Errorf("route %s: reading the target: %w", ru.r.Name, err)
	}
	var toWrite []Event
	changed := map[string]bool{}
	for i, r := range recs {
		d := Diff{Key: r.Key, TargetID: r.TargetID, Missing: current[i] == nil, Fields: map[string][2]string{}, EventIDs: r.EventIDs}
		for f, v := range r.Fields {
			if cur := current[i][f]; d.Missing || cur != v {
				d.Fields[f] = [2]string{current[i][f], v}
			}
		}
		if len(d.Fields) > 0 {
			res.Diffs = append(res.Diffs, d)
			changed[r.Key] = true
		}
	}
	sort.Slice(res.Diffs, func(i, j int) bool { return res.Diffs[i].Key < res.Diffs[j].Key })
	if dry || len(changed) == 0 {
		return res, nil
	}
	for _, it := range mapped {
		if changed[it.key] {
			toWrite = append(toWrite, it.ev)
		}
	}
	// Write the differing records the normal way. The ledger's value hashes
	// of the differing fields are forgotten (the target no longer holds
	// them); their change times stay, so newest-wins still holds.
	var forget []LedgerPut
	for _, d := range res.Diffs {
		fields := d.Fields
		forget = append(forget, LedgerPut{Vendor: ru.r.To.Vendor, Entity: ru.r.To.Entity, Key: d.Key,
			Update: func(e LedgerEntry) (LedgerEntry, bool) {
				if e.Fields == nil {
					return e, false
				}
				e = withFields(e)
				for f := range fields {
					if st, ok := e.Fields[f]; ok {
						st.Hash = ""
						e.Fields[f] = st
					}
				}
				return e, true
			}})
	}
	if err := ru.state.PutLedgers(ctx, forget); err != nil {
		return res, err
	}
	ar, err := ru.Apply(ctx, toWrite)
	res.Written, res.Dead = ar.Written, len(ar.DeadLettered)
	return res, err
}
