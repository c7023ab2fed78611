package sharpspring

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
	"github.com/crmsync/crmsync/vendors/simkit/simtest"
)

// countingPublisher counts events; the benchmark measures SharpSpring
// requests, not the bus.
type countingPublisher struct{ n atomic.Int64 }

func (c *countingPublisher) Publish(context.Context, pipeline.Event) error { c.n.Add(1); return nil }

// BenchmarkPollerRequestsPerChangedLead simulates two hours of lead changes
// at a steady rate (uniform in time) against the simulator, polling with
// the default Interval, Overlap and Lag under a simulated clock, and
// reports the getLeadsDateRange requests of the second hour (the first one
// warms up the density estimate) per changed lead, and per day at that
// rate. The daily sweep is not included: it costs ⌈active leads / 500⌉
// requests plus one per 500 leads gone, once a day.
//
//	go test ./sources/sharpspring -run '^$' -bench PollerRequests -benchtime 1x
func BenchmarkPollerRequestsPerChangedLead(b *testing.B) {
	cases := []struct {
		perHour, pageSize int
	}{
		{10, 500}, {1000, 500}, {100000, 500}, {100000, 5000},
	}
	for _, tc := range cases {
		b.Run(fmt.Sprintf("changes=%d/h,page=%d", tc.perHour, tc.pageSize), func(b *testing.B) {
			for b.Loop() {
				perLead, perDay := simulateHours(b, tc.perHour, tc.pageSize)
				b.ReportMetric(perLead, "requests/changed-lead")
				b.ReportMetric(perDay, "requests/day")
			}
		})
	}
}

func simulateHours(b *testing.B, perHour, pageSize int) (perLead, perDay float64) {
	b.Helper()
	ck := simtest.NewClock(t0)
	sim := sharpspringsim.New(sharpspringsim.Options{Now: ck.Now, RateLimitPerSecond: -1, DailyLimit: -1})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	defer sim.Close()
	ctx := context.Background()
	store := testenv.State(b)
	api, err := sharpspring.New(sharpspring.Config{Endpoint: srv.URL + "/pubapi/v1.2/",
		AccountID: sharpspringsim.DefaultAccountID, SecretKey: sharpspringsim.DefaultSecretKey})
	if err != nil {
		b.Fatal(err)
	}
	start := t0.Truncate(time.Minute)
	total := 2 * perHour
	step := 2 * time.Hour / time.Duration(total)
	for i := range total {
		at := start.Add(time.Duration(i) * step)
		sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("l%d@example.com", i)}, sharpspringsim.SeedTimestamps(at, at))
	}
	pub := &countingPublisher{}
	p, err := NewLeadPoller(LeadPollerConfig{Since: start, SweepInterval: -1, PageSize: pageSize, Now: ck.Now}, api, pub, store)
	if err != nil {
		b.Fatal(err)
	}
	ck.Set(start)
	poll := func(until time.Time) {
		for ck.Now().Before(until) {
			ck.Add(DefaultInterval)
			for {
				res, err := p.Poll(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if res.CaughtUp {
					break
				}
			}
		}
	}
	poll(start.Add(time.Hour))
	before, published := sim.Stats().ByMethod["getLeadsDateRange"], pub.n.Load()
	poll(start.Add(2 * time.Hour))
	reqs := sim.Stats().ByMethod["getLeadsDateRange"] - before
	changed := pub.n.Load() - published
	if changed == 0 {
		b.Fatal("no lead published in the measured hour")
	}
	return float64(reqs) / float64(changed), float64(reqs) * 24
}
