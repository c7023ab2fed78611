package sharpspring

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// limitSpy passes every call to the real client and remembers the largest
// getLeadsDateRange limit asked for.
type limitSpy struct {
	LeadAPI
	mu  sync.Mutex
	max int
}

func (s *limitSpy) GetLeadsDateRange(ctx context.Context, q sharpspring.DateRangeQuery) ([]sharpspring.Lead, error) {
	s.mu.Lock()
	s.max = max(s.max, q.Limit)
	s.mu.Unlock()
	return s.LeadAPI.GetLeadsDateRange(ctx, q)
}

// A second holding more than 500 leads loses none of them, whether
// SharpSpring honours a limit above 500 (observed), caps it at 500 in
// silence or refuses it (what its documented 500 objects per request
// allows), and
// whatever page size is configured: no request asks for more than 500.
// Before, the poller read such a second in one request with a doubled
// limit, and under the cap took 500 leads for all 1,200.
func TestPollerLosesNoLeadOfABusySecondUnderASilent500Cap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capAt    int
		random   bool
		pageSize int
	}{
		{"capped", 500, false, 0},
		{"capped random order", 500, true, 0},
		{"capped page size 5000", 500, false, 5000},
		{"honoured", -1, false, 0},
		{"honoured random order", -1, true, 0},
		{"refused", 0, false, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sharpspringsim.Options{DateRangeMaxLimit: tc.capAt, RandomOrder: tc.random})
			bulk := t0.Add(-10 * time.Minute).Truncate(time.Second)
			for i := range 1200 {
				e.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("bulk%d@example.com", i)}, sharpspringsim.SeedTimestamps(bulk, bulk.Add(300*time.Millisecond)))
			}
			seedSpread(e, 30, t0.Add(-20*time.Minute), 30*time.Second)
			rec := &sourcetest.Recorder{}
			spy := &limitSpy{LeadAPI: e.client("v1.2")}
			p, err := NewLeadPoller(LeadPollerConfig{Since: t0.Add(-time.Hour), SweepInterval: -1, PageSize: tc.pageSize, Now: e.clock.Now}, spy, rec, e.store)
			if err != nil {
				t.Fatal(err)
			}
			pollUntilCaughtUp(t, p)
			checkExactlyOnce(t, rec.Events(), snapshot(e.sim))
			if spy.max > sharpspring.MaxObjects {
				t.Errorf("asked getLeadsDateRange for %d leads; SharpSpring documents at most %d per request", spy.max, sharpspring.MaxObjects)
			}
			st := e.sim.Stats()
			t.Logf("%d requests (%d getLeadsDateRange, %d getLeads) for 1,230 leads, 1,200 in one second",
				st.Requests, st.ByMethod["getLeadsDateRange"], st.ByMethod["getLeads"])
		})
	}
}
