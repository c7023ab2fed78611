package pipeline_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/gate"
)

// spend has b admit n requests, each answered at once, failing the test on
// the first it refuses.
func spend(t *testing.T, b *pipeline.Budget, n int) {
	t.Helper()
	for range n {
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.Answered()
	}
}

// maxInWindow is the most timestamps in any half-open window of length span.
func maxInWindow(ts []time.Time, span time.Duration) int {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= span {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// busiestSecond has every budget, each in its own goroutine and all at
// once, admit n requests, each answered at once, and returns the most
// admitted within one second. A refusal fails the test and stops that
// budget.
func busiestSecond(t *testing.T, n int, buds ...*pipeline.Budget) int {
	t.Helper()
	var mu sync.Mutex
	var ts []time.Time
	var wg sync.WaitGroup
	for _, bud := range buds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				if err := bud.Wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ts = append(ts, time.Now())
				mu.Unlock()
				bud.Answered()
			}
		}()
	}
	wg.Wait()
	return maxInWindow(ts, time.Second)
}

func TestBudgetNeverLetsASecondCarryMoreThanTheRate(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about two seconds")
	}
	b := pipeline.NewBudget(pipeline.BudgetConfig{Account: "t", PerSecond: 10}, nil)
	if got := busiestSecond(t, 25, b); got > 10 {
		t.Fatalf("%d requests within one second, want at most 10", got)
	}
}

func TestBudgetCountsDailyQuotaAndStops(t *testing.T) {
	ctx := context.Background()
	store := testenv.State(t)
	b := pipeline.NewBudget(pipeline.BudgetConfig{Account: "ss:1", Daily: 2}, store)
	spend(t, b, 2)
	err := b.Wait(ctx)
	q, ok := pipeline.IsQuota(err)
	if !ok || !q.ResetAt.Equal(pipeline.NextUTCMidnight(time.Now())) {
		t.Fatalf("third request: %v", err)
	}
	// A restart (new budget on the same state) still knows the day is spent.
	if _, ok := pipeline.IsQuota(pipeline.NewBudget(pipeline.BudgetConfig{Account: "ss:1", Daily: 2}, store).Wait(ctx)); !ok {
		t.Fatal("quota forgotten across a restart")
	}
}

func TestBudgetWindowHoldsAcrossInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about two seconds")
	}
	store := testenv.State(t)
	// Two budgets of one account on one state file, as `run` and
	// `backfill` would hold: together they stay within the rate.
	a := pipeline.NewBudget(pipeline.BudgetConfig{Account: "ss:1", PerSecond: 5, Shared: true}, store)
	b := pipeline.NewBudget(pipeline.BudgetConfig{Account: "ss:1", PerSecond: 5, Shared: true}, store).WithReserve(10)
	if got := busiestSecond(t, 8, a, b); got > 5 {
		t.Fatalf("%d requests within one second from two budgets of one account, want at most 5", got)
	}
}

func TestReserveIsKeptForLiveTraffic(t *testing.T) {
	ctx := context.Background()
	store := testenv.State(t)
	live := pipeline.NewBudget(pipeline.BudgetConfig{Account: "ss:1", Daily: 5}, store)
	backfill := live.WithReserve(2)
	spend(t, backfill, 3)
	if _, ok := pipeline.IsQuota(backfill.Wait(ctx)); !ok {
		t.Fatal("backfill spent the live reserve")
	}
	for i := 0; i < 2; i++ {
		if err := live.Wait(ctx); err != nil {
			t.Fatalf("live could not use its reserve: %v", err)
		}
	}
	if _, ok := pipeline.IsQuota(live.Wait(ctx)); !ok {
		t.Fatal("live went past the daily quota")
	}
}

func TestBudgetRateStats(t *testing.T) {
	ctx := context.Background()
	// 2 per second, burst 1: the second and third request wait about
	// half a second each for the token bucket. The first two are
	// answered at once, the third not yet.
	b := pipeline.NewBudget(pipeline.BudgetConfig{Account: "t", PerSecond: 2}, nil)
	for i := range 3 {
		if err := b.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			b.Answered()
		}
	}
	st := b.RateStats()
	if st.InFlight != 1 || st.Waited < 900*time.Millisecond {
		t.Fatalf("%+v, want 1 in flight and about a second waited", st)
	}
	b.WithReserve(0).Answered() // a view shares its budget's counts
	if st := b.RateStats(); st.InFlight != 0 {
		t.Fatalf("%d in flight after every answer, want 0", st.InFlight)
	}
	if st := pipeline.NewBudget(pipeline.BudgetConfig{Account: "t"}, nil).RateStats(); st != (pipeline.RateStats{}) {
		t.Fatalf("a budget without a rate reports %+v", st)
	}
}

// vendor is a server that records when each request arrives, and sends
// requests to it through budgets, each held up on its way as asked.
type vendor struct {
	t        *testing.T
	url      string
	mu       sync.Mutex
	arrivals []time.Time
	wg       sync.WaitGroup
}

func newVendor(t *testing.T) *vendor {
	v := &vendor{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v.mu.Lock()
		v.arrivals = append(v.arrivals, time.Now())
		v.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	v.url = srv.URL
	return v
}

// send waits on g and sends one request, held up for trip on its way, in a
// goroutine of its own; the budget hears of its answer.
func (v *vendor) send(g *pipeline.Budget, trip time.Duration) {
	v.t.Helper()
	done, err := gate.Enter(context.Background(), g)
	if err != nil {
		v.t.Fatal(err)
	}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		defer done()
		time.Sleep(trip)
		resp, err := http.Get(v.url)
		if err != nil {
			v.t.Error(err)
			return
		}
		resp.Body.Close()
	}()
}

// atMostPerSecond waits for every request and fails the test when more
// than n arrived within one second.
func (v *vendor) atMostPerSecond(n int) {
	v.t.Helper()
	v.wg.Wait()
	v.mu.Lock()
	defer v.mu.Unlock()
	if got := maxInWindow(v.arrivals, time.Second); got > n {
		v.t.Fatalf("%d requests arrived within one second, want at most %d", got, n)
	}
}

// TestBudgetCountsARequestUntilASecondAfterItsAnswer: a vendor counts a
// request when it arrives. One held up on its way (here the first, for
// 300 ms) must not let the requests sent after it fill the vendor's second
// around its late arrival.
func TestBudgetCountsARequestUntilASecondAfterItsAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about two seconds")
	}
	v := newVendor(t)
	b := pipeline.NewBudget(pipeline.BudgetConfig{Account: "ss:1", PerSecond: 10, Shared: true}, testenv.State(t))
	v.send(b, 300*time.Millisecond)
	for range 24 {
		v.send(b, 0)
	}
	v.atMostPerSecond(10)
}

// TestBudgetsOnOneStateCountARequestFromItsAnswer: two processes on one
// state (two budgets of one account). The first one's request is held up
// on its way for 300 ms; the second sends all it may from 100 ms on. The
// held-up request's slot in the state's window moves to its answer, so the
// second does not fill the vendor's second around its late arrival.
func TestBudgetsOnOneStateCountARequestFromItsAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about two seconds")
	}
	v := newVendor(t)
	state := testenv.State(t)
	a := pipeline.NewBudget(pipeline.BudgetConfig{Account: "ss:1", PerSecond: 10, Shared: true}, state)
	b := pipeline.NewBudget(pipeline.BudgetConfig{Account: "ss:1", PerSecond: 10, Shared: true}, state)
	v.send(a, 300*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // the second process starts sending
	for range 20 {
		v.send(b, 0)
	}
	v.atMostPerSecond(10)
}
