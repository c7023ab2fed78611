package sharpspring

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// beforeOffset runs hook once, just before the first getLeadsDateRange
// request with the given offset, through the real client.
type beforeOffset struct {
	LeadAPI
	offset int
	hook   func()
	once   sync.Once
}

func (b *beforeOffset) GetLeadsDateRange(ctx context.Context, q sharpspring.DateRangeQuery) ([]sharpspring.Lead, error) {
	if q.Offset == b.offset {
		b.once.Do(b.hook)
	}
	return b.LeadAPI.GetLeadsDateRange(ctx, q)
}

// A second holding more leads than a page, some of which change (and so
// leave the second) between its pages: every lead is read all the same,
// each state once. With offset paging alone, the leads after a page
// boundary shift down and as many as had left are never read; the count
// and the lookup by id catch it and the second is read again.
func TestPollerMissesNoLeadWhenLeadsLeaveABusySecond(t *testing.T) {
	testenv.SkipUnderRace(t)
	for _, capAt := range []int{-1, 0, 500} {
		t.Run(fmt.Sprintf("limit cap %d", capAt), func(t *testing.T) {
			const total, leaving = 1200, 35
			e := newEnv(t, sharpspringsim.Options{DateRangeMaxLimit: capAt})
			bulk := t0.Add(-10 * time.Minute).Truncate(time.Second)
			ids := seedBulk(e, total, bulk, bulk)
			api := e.client("v1.2")
			// Leads of the first page are changed by someone while the
			// second is read: they move to now, which a later window reads.
			spy := &beforeOffset{LeadAPI: api, offset: sharpspring.MaxObjects, hook: func() {
				var objs []map[string]any
				for _, id := range ids[:leaving] {
					objs = append(objs, map[string]any{"id": strconv.FormatInt(id, 10), "city": "Elsewhere"})
				}
				if res, err := api.UpdateLeadsV2(context.Background(), objs); err != nil || !res[0].Success {
					t.Errorf("update: %v", err)
				}
			}}
			rec := &sourcetest.Recorder{}
			p, err := NewLeadPoller(LeadPollerConfig{Since: t0.Add(-time.Hour), SweepInterval: -1, Now: e.clock.Now}, spy, rec, e.store)
			if err != nil {
				t.Fatal(err)
			}
			pollUntilCaughtUp(t, p)
			e.clock.Add(2 * time.Minute)
			pollUntilCaughtUp(t, p)
			checkExactlyOnce(t, rec.Events(), snapshot(e.sim))
			st := e.sim.Stats()
			t.Logf("%d getLeadsDateRange and %d getLeads by id", st.ByMethod["getLeadsDateRange"], st.ByMethod["getLeads"])
		})
	}
}

// offsetIgnored answers every getLeadsDateRange as if offset were 0.
type offsetIgnored struct{ LeadAPI }

func (o offsetIgnored) GetLeadsDateRange(ctx context.Context, q sharpspring.DateRangeQuery) ([]sharpspring.Lead, error) {
	q.Offset = 0
	return o.LeadAPI.GetLeadsDateRange(ctx, q)
}

// Were getLeadsDateRange to ignore offset (it is undocumented), a busy
// second could never be counted: the poll fails saying so, having
// published everything before that second and nothing of it, rather than
// page forever or take a page for the second.
func TestPollerStopsAtABusySecondWhoseOffsetsAreIgnored(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{DateRangeMaxLimit: 500})
	seedSpread(e, 20, t0.Add(-30*time.Minute), time.Second)
	bulk := t0.Add(-10 * time.Minute).Truncate(time.Second)
	seedBulk(e, 1200, bulk, bulk)
	rec := &sourcetest.Recorder{}
	p, err := NewLeadPoller(LeadPollerConfig{Since: t0.Add(-time.Hour), SweepInterval: -1, Now: e.clock.Now},
		offsetIgnored{e.client("v1.2")}, rec, e.store)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "offsets are not honoured") {
		t.Fatalf("poll: %v", err)
	}
	if len(rec.Events()) != 20 || !res.Through.Before(bulk) {
		t.Fatalf("published %d events, through %s; want the 20 before the busy second %s", len(rec.Events()), res.Through, bulk)
	}
}

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
	testenv.SkipUnderRace(t)
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
			seedBulk(e, 1200, bulk, bulk.Add(300*time.Millisecond))
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
