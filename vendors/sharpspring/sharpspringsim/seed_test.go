package sharpspringsim

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestBulkSeededAccountAnswersDateRangesFromItsIndex seeds a history spread
// over days, edits a few leads and updates others through the API, and
// checks that getLeadsDateRange (update and create) and getLeads by email
// see exactly those, as a full scan would.
func TestBulkSeededAccountAnswersDateRangesFromItsIndex(t *testing.T) {
	h := newHarness(t, Options{})
	const n = 2000
	seeded := h.sim.SeedLeads(n, func(i int) map[string]string {
		return map[string]string{"emailAddress": "h" + strconv.Itoa(i) + "@x.test", "firstName": "H"}
	}, func(i int) []SeedOption {
		at := t0.Add(-time.Duration(n-i) * time.Minute)
		return []SeedOption{SeedTimestamps(at, at)}
	})
	if len(seeded) != n || len(h.sim.Leads()) != n {
		t.Fatalf("seeded %d ids, %d leads", len(seeded), len(h.sim.Leads()))
	}
	h.clock.Add(time.Hour)
	for _, i := range []int{7, 1500} {
		if !h.sim.EditLead(seeded[i], map[string]string{"firstName": "Edited"}) {
			t.Fatalf("lead %d not found", seeded[i])
		}
	}
	if h.sim.EditLead(-1, map[string]string{"firstName": "x"}) {
		t.Error("EditLead of an unknown id reported success")
	}
	h.clock.Add(time.Minute)
	if r := h.call("updateLeadsV2", objs(map[string]any{"id": seeded[42], "lastName": "ViaAPI"})); r.errCode() != 0 {
		t.Fatalf("update: %s", r.Body)
	}
	s := func(id int64) string { return strconv.FormatInt(id, 10) }
	format := func(tm time.Time) string { return tm.UTC().Format(timeLayout) }
	for _, c := range []struct {
		name       string
		start, end time.Time
		ts         string
		want       []string
	}{
		{"edits and the API update", t0.Add(30 * time.Minute), t0.Add(2 * time.Hour), "update", []string{s(seeded[7]), s(seeded[42]), s(seeded[1500])}},
		{"the UI edits only", t0.Add(time.Hour), t0.Add(time.Hour), "update", []string{s(seeded[7]), s(seeded[1500])}},
		{"history by update, edits gone from it", t0.Add(-5 * time.Minute), t0.Add(-time.Minute), "update", []string{s(seeded[1995]), s(seeded[1996]), s(seeded[1997]), s(seeded[1998]), s(seeded[1999])}},
		{"history by create, edits kept", t0.Add(-1994 * time.Minute), t0.Add(-1992 * time.Minute), "create", []string{s(seeded[6]), s(seeded[7]), s(seeded[8])}},
		{"nothing", t0.Add(3 * time.Hour), t0.Add(4 * time.Hour), "update", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.call("getLeadsDateRange", map[string]any{"startDate": format(c.start), "endDate": format(c.end), "timestamp": c.ts})
			if got := ids(r.objects("lead")); !slices.Equal(got, c.want) {
				t.Errorf("ids %v, want %v", got, c.want)
			}
		})
	}
	r := h.call("getLeads", map[string]any{"where": map[string]any{"emailAddress": []any{"H7@x.test", "h1500@x.test", "nobody@x.test"}}})
	if got, want := ids(r.objects("lead")), []string{s(seeded[7]), s(seeded[1500])}; !slices.Equal(got, want) {
		t.Errorf("getLeads by emails: %v, want %v", got, want)
	}
	if l := h.getLead(seeded[7]); l["firstName"] != "Edited" || l["updateTimestamp"] != format(t0.Add(time.Hour)) {
		t.Errorf("edited lead %v", l)
	}
}
