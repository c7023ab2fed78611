package sharpspring

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// TestNoLagPollerMissesNothingOnARealClock: leads written while the poller
// polls with no lag, on the real clock, are all published.
func TestNoLagPollerMissesNothingOnARealClock(t *testing.T) {
	ctx := context.Background()
	sim := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": "k"}, RateLimitPerSecond: -1})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, _ := sharpspring.New(sharpspring.Config{Endpoint: srv.URL + "/pubapi/v1.2/", AccountID: "1", SecretKey: "k"})
	bus := testenv.Bus(t)
	store := testenv.State(t)
	p, err := NewLeadPoller(LeadPollerConfig{Interval: time.Second, Overlap: 2 * time.Second, Lag: -1, Since: time.Now().Add(-time.Minute)}, c, bus, store)
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	n := 0
	for b := 0; b < 12; b++ {
		var objs []map[string]any
		for i := 0; i < 25; i++ {
			objs = append(objs, map[string]any{"emailAddress": fmt.Sprintf("l%d@example.com", n), "firstName": "x"})
			n++
		}
		if _, err := c.CreateLeads(ctx, objs); err != nil {
			t.Fatal(err)
		}
		time.Sleep(230 * time.Millisecond)
	}
	cons, _ := bus.Consumer(ctx, "t", pipeline.Subject("lead", "sharpspring"))
	seen := map[string]bool{}
	defer func() { cancel(); <-done }()
	testenv.Eventually(t, "every lead on the bus", func() bool {
		ms, _ := cons.Fetch(ctx, 500, 200*time.Millisecond)
		for _, m := range ms {
			seen[m.Event.ExternalID] = true
			m.Ack()
		}
		return len(seen) >= n
	})
	cancel()
	if len(seen) != n {
		t.Fatalf("published %d of %d leads", len(seen), n)
	}
}
