package snapshots

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// ErrBadPageCursor says a stored backfill cursor is not one PageIDs wrote:
// the run cannot resume from it.
var ErrBadPageCursor = errors.New("not a snapshot backfill cursor")

// pageCursor is the persisted place of a snapshot backfill: every record
// whose id orders at or before After is published. Guarded by a golden
// test.
type pageCursor struct {
	V     int    `json:"v"`
	After string `json:"after"`
}

const pageCursorVersion = 1

// PageIDs picks one page of a snapshot for a backfill: the first size ids
// (in compare order; default strings.Compare) after the cursor's place
// ("" = the start), and the cursor after them ("" when no id is left). The
// place is an id, never an offset, so records added or removed during the
// run shift nothing: a record is published once, or, when it is added
// behind the place, not at all (the live poller's). ids need not be
// sorted; duplicates count once.
func PageIDs(ids []string, cursor string, size int, compare func(a, b string) int) (page []string, next string, err error) {
	if compare == nil {
		compare = strings.Compare
	}
	after, err := decodePageCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, compare)
	sorted = slices.CompactFunc(sorted, func(a, b string) bool { return compare(a, b) == 0 })
	i := 0
	if after != nil {
		i, _ = slices.BinarySearchFunc(sorted, *after, compare)
		if i < len(sorted) && compare(sorted[i], *after) == 0 {
			i++
		}
	}
	end := min(i+max(size, 1), len(sorted))
	page = sorted[i:end]
	if end >= len(sorted) {
		return page, "", nil
	}
	b, _ := json.Marshal(pageCursor{V: pageCursorVersion, After: page[len(page)-1]})
	return page, string(b), nil
}

func decodePageCursor(s string) (*string, error) {
	if s == "" {
		return nil, nil
	}
	var c pageCursor
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.V != pageCursorVersion || c.After == "" {
		shown := s
		if len(shown) > 80 {
			shown = shown[:80] + "…"
		}
		return nil, fmt.Errorf("stored cursor %s: %w (start a new run: give other --since/--until)", strconv.Quote(shown), ErrBadPageCursor)
	}
	return &c.After, nil
}

// BackfillEvents turns a page of snapshot records into the upserts a
// backfill publishes: vendor, entity, id and fields as the Differ's events
// for a new record, Version the fields' hash (a backfill knows no change
// count), ChangedAt the time the page was read.
func BackfillEvents(vendor, entity string, recs []Record, at time.Time) []pipeline.Event {
	evs := make([]pipeline.Event, 0, len(recs))
	for _, r := range recs {
		evs = append(evs, pipeline.Event{Vendor: vendor, Entity: entity, ExternalID: r.ID, Op: pipeline.OpUpsert,
			Version: "snapshot:" + pipeline.FieldsHash(r.Fields), Fields: r.Fields, ChangedAt: at.UTC(), Origin: pipeline.OriginBackfill})
	}
	return evs
}
