package sharpspring

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// Another integration spends half of the account's 10 requests a second
// (5 lead updates a second through the same account, on the real clock),
// so the poller's own 9 a second meet 107 answers all the time. The
// poller still advances: its cursor passes the seeded hour and every lead
// change, seeded or made by the other client, is published within a
// bounded time. Before, a window needing a few dozen requests was thrown
// away whole at its first 107 and started again, and the watermark never
// moved.
func TestLeadPollerAdvancesWhileAnotherClientSpendsTheRate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs on the real clock for several seconds")
	}
	ctx := context.Background()
	sim := sharpspringsim.New(sharpspringsim.Options{}) // 10 requests a second, 107 beyond
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	newClient := func(gate sharpspring.Gate) *sharpspring.Client {
		c, err := sharpspring.New(sharpspring.Config{Endpoint: srv.URL + "/pubapi/v1.2/",
			AccountID: sharpspringsim.DefaultAccountID, SecretKey: sharpspringsim.DefaultSecretKey, Gate: gate})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// An hour of history, dense enough that one window takes a few dozen
	// requests.
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	const seeded = 6000
	var ids []int64
	for i := range seeded {
		at := start.Add(time.Duration(i) * 55 * time.Minute / seeded)
		ids = append(ids, sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("c%d@example.com", i), "firstName": "Seeded"},
			sharpspringsim.SeedTimestamps(at, at)))
	}
	seedEnd := start.Add(55 * time.Minute)

	// The other integration: 5 lead updates a second, each a change the
	// poller must publish.
	otherCtx, stopOther := context.WithCancel(ctx)
	var otherWG sync.WaitGroup
	otherWG.Add(1)
	var otherSent, otherRefused int
	go func() {
		defer otherWG.Done()
		other := newClient(nil)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-otherCtx.Done():
				return
			case <-tick.C:
			}
			obj := map[string]any{"id": strconv.FormatInt(ids[(i*7919)%len(ids)], 10), "city": "Town " + strconv.Itoa(i)}
			otherSent++
			if _, err := other.UpdateLeadsV2(otherCtx, []map[string]any{obj}); err != nil {
				otherRefused++
			}
		}
	}()
	t.Cleanup(func() { stopOther(); otherWG.Wait() })

	rec := &sourcetest.Recorder{}
	store := testenv.State(t)
	gate := pipeline.NewBudget(pipeline.BudgetConfig{Account: "sharpspring:" + sharpspringsim.DefaultAccountID, PerSecond: 9}, nil)
	p, err := NewLeadPoller(LeadPollerConfig{Since: start, SweepInterval: -1, Interval: 100 * time.Millisecond,
		Overlap: 5 * time.Second, Lag: time.Second, Logger: slog.New(slog.DiscardHandler)}, newClient(gate), rec, store)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stopPoller := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	t.Cleanup(func() { stopPoller(); <-done })

	watermark := func() time.Time {
		s, _, err := store.Cursor(ctx, DefaultLeadSource)
		if err != nil {
			return time.Time{}
		}
		c, err := decodeLeadCursor(s)
		if err != nil || c.Watermark == "" {
			return time.Time{}
		}
		wm, _ := sharpspring.ParseTime(c.Watermark, time.UTC)
		return wm
	}
	published := func(want map[change]bool) bool {
		got := map[change]bool{}
		for _, ev := range rec.Events() {
			got[change{ev.ExternalID, ev.Version}] = true
		}
		for c := range want {
			if !got[c] {
				return false
			}
		}
		return true
	}
	seededStates := map[change]bool{}
	for _, id := range ids {
		seededStates[change{strconv.FormatInt(id, 10), ""}] = true
	}
	seededPublished := func() bool {
		got := map[string]bool{}
		for _, ev := range rec.Events() {
			got[ev.ExternalID] = true
		}
		for c := range seededStates {
			if !got[c.id] {
				return false
			}
		}
		return true
	}

	began := time.Now()
	testenv.Eventually(t, "the cursor to pass the seeded hour and every seeded lead to be published while the other client runs", func() bool {
		return !watermark().Before(seedEnd) && seededPublished()
	})
	advanced := time.Since(began)
	st := sim.Stats()
	if st.Rejected107 == 0 {
		t.Fatal("no 107 answer: the other client did not compete for the rate; the test proves nothing")
	}

	// The other client's changes so far are published too, while it keeps
	// changing leads.
	want := snapshot(sim)
	testenv.Eventually(t, "every lead change made so far to be published", func() bool { return published(want) })
	caughtUp := time.Since(began)
	stopOther()
	otherWG.Wait()
	final := sim.Stats()
	t.Logf("cursor past the seeded hour after %s, changes published after %s; %d requests (%d getLeadsDateRange), %d answered 107; other client: %d sent, %d refused",
		advanced.Round(time.Millisecond), caughtUp.Round(time.Millisecond), final.Requests, final.ByMethod["getLeadsDateRange"], final.Rejected107, otherSent, otherRefused)
}
