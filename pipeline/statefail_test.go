package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// failingState is the real state with operations that fail on demand: the
// next n calls of ResolveAll or Settle return err instead of reaching it.
type failingState struct {
	pipeline.RouteState
	resolveFails, settleFails atomic.Int32
	err                       atomic.Pointer[error]
}

var errDiskGone = errors.New("disk I/O error")

func (s *failingState) fail(n *atomic.Int32) error {
	if n.Add(-1) < 0 {
		n.Store(0)
		return nil
	}
	return *s.err.Load()
}

func (s *failingState) ResolveAll(ctx context.Context, keys [][]pipeline.Key) ([]string, error) {
	if err := s.fail(&s.resolveFails); err != nil {
		return nil, err
	}
	return s.RouteState.ResolveAll(ctx, keys)
}

func (s *failingState) Settle(ctx context.Context, st pipeline.Settlement) ([]int64, error) {
	if err := s.fail(&s.settleFails); err != nil {
		return nil, err
	}
	return s.RouteState.Settle(ctx, st)
}

// countingSink counts the writes of each record.
type countingSink struct {
	mu     sync.Mutex
	writes map[string]int
}

func (s *countingSink) Write(_ context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]pipeline.Outcome, len(recs))
	for i, r := range recs {
		s.writes[r.Key]++
		out[i] = pipeline.Outcome{TargetID: "t-" + r.Key}
	}
	return out
}

// check reports the number of records written and any written more than once.
func (s *countingSink) check() (records int, twice []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.writes {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s×%d", k, n))
		}
	}
	return len(s.writes), twice
}

// TestStateFailuresAreRetriedNotFatal: a route whose state fails for a while
// (before its writes, and when saving their outcome) retries with backoff,
// counts the failures, acknowledges nothing before it is saved, writes each
// record once, and recovers; another route beside it in the same group runs
// on meanwhile. A state that cannot heal stops the route, with nothing of
// its batch acknowledged.
func TestStateFailuresAreRetriedNotFatal(t *testing.T) {
	real := testenv.State(t)
	bus := testenv.Bus(t)
	flaky := &failingState{RouteState: real}
	flaky.err.Store(&errDiskGone)
	toB, toD := &countingSink{writes: map[string]int{}}, &countingSink{writes: map[string]int{}}
	policy := pipeline.BatchPolicy{Linger: 20 * time.Millisecond, RetryInitial: 5 * time.Millisecond, RetryMax: 40 * time.Millisecond,
		Redeliver: 5 * time.Millisecond}
	abRoute, cdRoute := copyRoute("a", "b", toB), copyRoute("c", "d", toD)
	abRoute.Batch, cdRoute.Batch = policy, policy
	ab, cd := newRunner(t, abRoute, bus, flaky), newRunner(t, cdRoute, bus, real)
	// As the instance runs its routes: the first to fail stops the group.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range []*pipeline.Runner{ab, cd} {
		g.Go(func() error { return r.Run(gctx) })
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	running := func() {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("the routes stopped: %v", err)
		default:
		}
	}

	t0 := time.Now().Truncate(time.Second)
	publish := func(vendor string, from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			ev := pipeline.Event{Vendor: vendor, Entity: "lead", ExternalID: fmt.Sprint(i), ChangedAt: t0, Version: "1",
				Fields: map[string]string{"key": fmt.Sprintf("%s%d@example.com", vendor, i), "city": "Austin"}}
			ev.Seal()
			if err := bus.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	settled := func(r *pipeline.Runner, n int64) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("%s to settle %d events", r.Name(), n), func() bool { return r.Stats.Settled.Load() >= n })
	}

	// The state fails before the writes: the batch goes back to the bus.
	flaky.resolveFails.Store(4)
	publish("a", 0, 5)
	publish("c", 0, 5)
	settled(cd, 5)
	running()
	settled(ab, 5)
	if n := ab.Stats.StateRetries.Load(); n < 4 {
		t.Errorf("state retries = %d, want at least 4", n)
	}
	if n, twice := toB.check(); n != 5 || len(twice) > 0 {
		t.Fatalf("after failures before the writes: %d records written, twice: %v; want 5, none", n, twice)
	}

	// The state fails when saving what was written: saved again, not
	// written again, and acknowledged only once saved.
	retries := ab.Stats.StateRetries.Load()
	flaky.settleFails.Store(1 << 20)
	publish("a", 5, 8)
	testenv.Eventually(t, "three failed saves", func() bool { return ab.Stats.StateRetries.Load() >= retries+3 })
	if n := ab.Stats.Settled.Load(); n != 5 {
		t.Fatalf("%d events acknowledged while their outcome was not saved; want 5", n)
	}
	flaky.settleFails.Store(0)
	publish("c", 5, 8)
	settled(cd, 8)
	settled(ab, 8)
	running()
	if n, twice := toB.check(); n != 8 || len(twice) > 0 {
		t.Fatalf("after failures while saving: %d records written, twice: %v; want 8, none", n, twice)
	}
	if n, twice := toD.check(); n != 8 || len(twice) > 0 {
		t.Fatalf("the other route wrote %d records, twice: %v; want 8, none", n, twice)
	}
	if pos, err := real.RoutePosition(ctx, "a-b"); err != nil || pos != ab.Stats.LastSeq.Load() {
		t.Errorf("saved position %d, %v; want %d", pos, err, ab.Stats.LastSeq.Load())
	}

	// A state that cannot heal stops the route (and so the group).
	unusable := fmt.Errorf("state: begin: %w: %w", pipeline.ErrStateUnusable, errors.New("database disk image is malformed"))
	flaky.err.Store(&unusable)
	flaky.resolveFails.Store(1 << 20)
	publish("a", 8, 9)
	select {
	case err := <-done:
		if !errors.Is(err, pipeline.ErrStateUnusable) {
			t.Fatalf("the routes stopped with %v, want ErrStateUnusable", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("an unusable state did not stop the route")
	}
	if n := ab.Stats.Settled.Load(); n != 8 {
		t.Errorf("%d events acknowledged; the batch the state refused must not be", n)
	}
}
