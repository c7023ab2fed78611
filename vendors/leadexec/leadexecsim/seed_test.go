package leadexecsim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// TestAddLeadsHistoryAnswersDateRanges: a history stored in bulk is queried
// by date range, bounds inclusive to the instant, as a scan would answer.
func TestAddLeadsHistoryAnswersDateRanges(t *testing.T) {
	f := newSim(t, leadexecsim.Options{})
	auth := map[string]string{"Authorization": "Bearer " + f.token()}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const n = 1000
	uids := f.sim.AddLeads(n, func(i int) leadexecsim.StoredLead {
		// Every 90 s, half a second past the second.
		return leadexecsim.StoredLead{DateAdded: base.Add(time.Duration(i)*90*time.Second + 500*time.Millisecond),
			Fields: map[string]string{"Email": fmt.Sprintf("h%d@example.com", i)}}
	})
	if len(uids) != n || len(f.sim.Leads()) != n {
		t.Fatalf("%d uids, %d leads", len(uids), len(f.sim.Leads()))
	}
	for _, c := range []struct {
		name, start, end string
		total            float64
		first            int64
	}{
		{"an hour", "2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z", 40, uids[40]},
		// Lead 2 was added at 00:03:00.5: a bound at 00:03:00 ends before it.
		{"end before the half second", "2026-11-01T00:00:00Z", "2026-11-01T00:03:00Z", 2, uids[0]},
		{"start after the half second", "2026-11-01T00:03:01Z", "2026-11-01T00:06:00Z", 1, uids[3]},
		{"none", "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.do("POST", "/v1/leads/query/201", "application/json", fmt.Sprintf(`{"StartDate":%q,"EndDate":%q}`, c.start, c.end), auth)
			body := r.json(t)
			if r.status != 200 || body["Total"] != c.total {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if leads := body["Leads"].([]any); c.total > 0 && int64(leads[0].(map[string]any)["UID"].(float64)) != c.first {
				t.Errorf("first lead %v, want %d", leads[0], c.first)
			}
		})
	}
}
