package pipeline

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/crmsync/crmsync/checkpoints"
)

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

func TestBudgetNeverLetsASecondCarryMoreThanTheRate(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about two seconds")
	}
	b := NewBudget(BudgetConfig{Account: "t", PerSecond: 10}, nil)
	var ts []time.Time
	for i := 0; i < 25; i++ {
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		ts = append(ts, time.Now())
	}
	if got := maxInWindow(ts, time.Second); got > 10 {
		t.Fatalf("%d requests within one second, want at most 10", got)
	}
}

func TestBudgetCountsDailyQuotaAndStops(t *testing.T) {
	ctx := context.Background()
	store, err := checkpoints.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b := NewBudget(BudgetConfig{Account: "ss:1", Daily: 2}, store)
	for i := 0; i < 2; i++ {
		if err := b.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	err = b.Wait(ctx)
	q, ok := IsQuota(err)
	if !ok || !q.ResetAt.Equal(NextUTCMidnight(time.Now())) {
		t.Fatalf("third request: %v", err)
	}
	// A restart (new budget on the same state) still knows the day is spent.
	if _, ok := IsQuota(NewBudget(BudgetConfig{Account: "ss:1", Daily: 2}, store).Wait(ctx)); !ok {
		t.Fatal("quota forgotten across a restart")
	}
}

func TestSlidingWindowHonoursContext(t *testing.T) {
	w := newSlidingWindow(1, time.Hour)
	if err := w.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.wait(ctx); err == nil {
		t.Fatal("wait past the window ignored a cancelled context")
	}
}
