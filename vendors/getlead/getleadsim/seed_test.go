package getleadsim

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"
)

// TestBulkSeededListsFromAWatermarkReadTheLeadsCreatedSince seeds leads out
// of creation order and pages an ascending list from a creation time: the
// pages hold every lead created since, oldest first, ties by id, as a full
// scan would give.
func TestBulkSeededListsFromAWatermarkReadTheLeadsCreatedSince(t *testing.T) {
	sim, srv, clk := newSim(t, Options{})
	const n = 500
	at := func(i int) time.Time {
		return clk.Now().Add(-time.Duration((i*7919)%n) * time.Minute / 2) // a permutation of half-minutes, ties in seconds none
	}
	ids := sim.SeedLeads(n, func(i int) LeadSeed {
		return LeadSeed{Name: fmt.Sprint("L", i), Phones: []string{fmt.Sprintf("+9198%08d", i)}, CreatedAt: at(i)}
	})
	if len(ids) != n || len(sim.Leads()) != n {
		t.Fatalf("seeded %d ids, %d leads", len(ids), len(sim.Leads()))
	}
	from := clk.Now().Add(-20*time.Minute - 15*time.Second)
	type want struct {
		t    time.Time
		name string
	}
	var expect []want
	for i := range n {
		if !at(i).Before(from) {
			expect = append(expect, want{at(i), fmt.Sprint("L", i)})
		}
	}
	slices.SortFunc(expect, func(a, b want) int { return a.t.Compare(b.t) })
	names := listNames(t, srv, "/leads?sort_by=created_at&sort_direction=asc&per_page=7&"+url.Values{"created_at[from]": {from.Format(time.RFC3339)}}.Encode(), n)
	var wantNames []string
	for _, w := range expect {
		wantNames = append(wantNames, w.name)
	}
	if len(wantNames) != 41 || !slices.Equal(names, wantNames) {
		t.Errorf("listed %d leads %v, want %d %v", len(names), names, len(wantNames), wantNames)
	}
}
