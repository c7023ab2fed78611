// Package pagetest runs the sources' backfill pagers in tests, as the
// backfill runner would, and checks what they published.
package pagetest

import (
	"context"
	"maps"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
)

// maxPages is where All gives up on a backfill that does not end.
const maxPages = 1000

// All runs a backfill page by page, each page with a new pager from
// newPager started from the cursor the last page returned (as a restarted
// process would), and returns every event in order. between, if set, runs
// after each page but the last. It fails t when a page fails, when a page
// returns no events and the cursor it was given, or after maxPages pages.
func All[P pipeline.Pager](t testing.TB, newPager func() P, between func(page int)) []pipeline.Event {
	t.Helper()
	var all []pipeline.Event
	cursor := ""
	for page := 1; ; page++ {
		if page > maxPages {
			t.Fatal("the backfill does not end")
		}
		evs, next, err := newPager().Page(context.Background(), cursor)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		all = append(all, evs...)
		if next == "" {
			return all
		}
		if next == cursor && len(evs) == 0 {
			t.Fatalf("page %d: no progress from cursor %s", page, cursor)
		}
		cursor = next
		if between != nil {
			between(page)
		}
	}
}

// OnceEach fails t unless evs hold exactly one event for each external id
// of want and no other event.
func OnceEach(t testing.TB, evs []pipeline.Event, want []string) {
	t.Helper()
	n := map[string]int{}
	for _, e := range evs {
		n[e.ExternalID]++
	}
	for _, id := range want {
		if n[id] != 1 {
			t.Errorf("record %s published %d times", id, n[id])
		}
	}
	if len(evs) != len(want) {
		t.Errorf("%d events for %d records", len(evs), len(want))
	}
}

// AsPolled fails t for each backfill event whose record the live poller
// also published (polled) with other fields: a backfill must publish a
// record as the poller would.
func AsPolled(t testing.TB, backfill, polled []pipeline.Event) {
	t.Helper()
	live := map[string]map[string]string{}
	for _, ev := range polled {
		live[ev.ExternalID] = ev.Fields
	}
	for _, ev := range backfill {
		if w, ok := live[ev.ExternalID]; ok && !maps.Equal(w, ev.Fields) {
			t.Errorf("%s %s: backfill fields %v, the poller's %v", ev.Entity, ev.ExternalID, ev.Fields, w)
		}
	}
}

// SameIDs fails t unless backfill holds one event for each event of polled
// and each, sealed as the backfill runner seals it, has the id of the
// polled event of its record: a backfill that publishes a change the
// poller published already must publish it under the same id, which the
// bus then drops.
func SameIDs(t testing.TB, backfill, polled []pipeline.Event) {
	t.Helper()
	if len(backfill) != len(polled) {
		t.Fatalf("the backfill published %d events, the poller %d", len(backfill), len(polled))
	}
	want := map[string]string{}
	for _, ev := range polled {
		want[ev.ExternalID] = ev.ID
	}
	for _, ev := range backfill {
		ev.Origin = pipeline.OriginBackfill
		if err := ev.Seal(); err != nil {
			t.Fatal(err)
		}
		if want[ev.ExternalID] != ev.ID {
			t.Errorf("%s %s: backfill event id %s, the poller's %s", ev.Entity, ev.ExternalID, ev.ID, want[ev.ExternalID])
		}
	}
}
