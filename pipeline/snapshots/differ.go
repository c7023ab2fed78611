// Package snapshots turns successive full listings of a vendor's records
// into change events, for vendors that offer no "modified since": each poll
// reads the whole list and publishes what differs from the last one, whose
// digest is kept in the source cursor.
package snapshots

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// Record is one listed record: its id (unique within a listing) and its
// fields.
type Record struct {
	ID     string
	Fields map[string]string
}

// Counts counts one poll's events.
type Counts struct{ Created, Changed, Removed int }

// Differ publishes the differences between a listing and the one saved
// under Name:
//
//   - a new or changed record is an upsert with Version "<n>:<hash>" (n
//     counts the record's changes, so a change back to an earlier state is
//     a new event);
//   - a record no longer listed is Op "delete" with Version "<n>:removed";
//     its count is kept, so a record that comes back continues it.
//
// The first poll publishes every record. The cursor is saved after every
// event was published; a poll cut short publishes the same event ids
// again. A Differ holds no state of its own: callers serialise Poll.
type Differ struct {
	// Name is the cursor key and the prefix of errors.
	Name string
	// Vendor and Entity label the events.
	Vendor, Entity string
	// ClearEmpty leaves empty fields out of an upsert, except a field that
	// had a value at the last snapshot: that one is sent empty, a clear.
	// Without it an upsert carries every field as listed.
	ClearEmpty bool
	// Compare orders the events by ExternalID; default strings.Compare.
	Compare func(a, b string) int
	// Now is the clock (event ChangedAt); default time.Now.
	Now func() time.Time
	// Publisher receives the events; Cursors keeps the snapshot digest.
	Publisher pipeline.Publisher
	Cursors   pipeline.Cursors
}

// cursor is the persisted snapshot: per record id its change count,
// content hash ("" once removed) and, with ClearEmpty, the fields that had
// a value.
type cursor struct {
	V       int               `json:"v"`
	Records map[string]digest `json:"clients"`
}

type digest struct {
	N    int      `json:"n"`
	Hash string   `json:"h,omitempty"`
	Set  []string `json:"set,omitempty"`
}

// Poll reads the saved snapshot, then the current one with list, publishes
// the differences and saves the new snapshot. An error from list is
// returned as is, after the saved snapshot was read; nothing is published
// then. The counts are returned with any error.
func (d *Differ) Poll(ctx context.Context, list func(context.Context) ([]Record, error)) (Counts, error) {
	var n Counts
	cur := cursor{V: 1, Records: map[string]digest{}}
	s, _, err := d.Cursors.Cursor(ctx, d.Name)
	switch {
	case errors.Is(err, pipeline.ErrNotFound):
	case err != nil:
		return n, fmt.Errorf("%s: read cursor: %w", d.Name, err)
	default:
		if err := json.Unmarshal([]byte(s), &cur); err != nil || cur.V != 1 {
			return n, fmt.Errorf("%s: cursor is not a %s snapshot (v%d): %v", d.Name, d.Entity, cur.V, err)
		}
		if cur.Records == nil {
			cur.Records = map[string]digest{}
		}
	}
	recs, err := list(ctx)
	if err != nil {
		return n, err
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	changedAt := now().UTC()
	next := maps.Clone(cur.Records)
	listed := make(map[string]bool, len(recs))
	var evs []pipeline.Event
	for _, r := range recs {
		listed[r.ID] = true
		h := pipeline.FieldsHash(r.Fields)
		old := cur.Records[r.ID]
		if old.Hash == h {
			continue
		}
		if old.Hash == "" {
			n.Created++
		} else {
			n.Changed++
		}
		fields, set := r.Fields, []string(nil)
		if d.ClearEmpty {
			fields, set = withClears(r.Fields, old.Set)
		}
		dg := digest{N: old.N + 1, Hash: h, Set: set}
		next[r.ID] = dg
		evs = append(evs, pipeline.Event{
			Vendor: d.Vendor, Entity: d.Entity, ExternalID: r.ID, Op: pipeline.OpUpsert,
			Version: strconv.Itoa(dg.N) + ":" + h, Fields: fields, ChangedAt: changedAt,
		})
	}
	for id, old := range cur.Records {
		if listed[id] || old.Hash == "" {
			continue
		}
		n.Removed++
		dg := digest{N: old.N + 1}
		next[id] = dg
		evs = append(evs, pipeline.Event{
			Vendor: d.Vendor, Entity: d.Entity, ExternalID: id, Op: pipeline.OpDelete,
			Version: strconv.Itoa(dg.N) + ":removed", Fields: map[string]string{}, ChangedAt: changedAt,
		})
	}
	compare := strings.Compare
	if d.Compare != nil {
		compare = d.Compare
	}
	slices.SortStableFunc(evs, func(a, b pipeline.Event) int { return compare(a.ExternalID, b.ExternalID) })
	for i := range evs {
		if err := evs[i].Seal(); err != nil {
			return n, err
		}
		if err := d.Publisher.Publish(ctx, evs[i]); err != nil {
			return n, fmt.Errorf("%s: publish %s %s: %w", d.Name, d.Entity, evs[i].ExternalID, err)
		}
	}
	cur.Records = next
	b, err := json.Marshal(cur)
	if err != nil {
		return n, err
	}
	if err := d.Cursors.SetCursor(ctx, d.Name, string(b)); err != nil {
		return n, fmt.Errorf("%s: save cursor: %w", d.Name, err)
	}
	return n, nil
}

// withClears returns the fields of an upsert under ClearEmpty, and the
// sorted names of those with a value.
func withClears(fields map[string]string, wasSet []string) (map[string]string, []string) {
	out := map[string]string{}
	var set []string
	for k, v := range fields {
		if v != "" {
			out[k] = v
			set = append(set, k)
		}
	}
	for _, k := range wasSet {
		if _, ok := out[k]; !ok {
			out[k] = "" // had a value, has none now: cleared
		}
	}
	slices.Sort(set)
	return out, set
}

// CompareNumeric orders decimal ids by their value.
func CompareNumeric(a, b string) int {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return cmp.Compare(x, y)
}
