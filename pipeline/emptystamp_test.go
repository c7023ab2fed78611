package pipeline_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// A target that reports an empty field it never held (its own form of "no
// value"), stamped with the time of crmsync's own write of other fields,
// must not block an edit made elsewhere before that time: the edit only
// reached crmsync after the target had been written (a backlog), and it is
// still the newest change of that field.
func TestAnEmptyFieldReportedByTheTargetDoesNotBlockAnEarlierEdit(t *testing.T) {
	ctx := context.Background()
	state := testenv.State(t)
	bus := testenv.Bus(t)
	toB, toC := &memorySink{}, &memorySink{}
	ab := newRunner(t, copyRoute("a", "b", toB), bus, state)
	bc := newRunner(t, copyRoute("b", "c", toC), bus, state)
	t0 := time.Date(2026, 12, 4, 6, 5, 35, 0, time.UTC)
	// The lead reaches b (it has no color).
	if _, err := ab.Apply(ctx, []pipeline.Event{leadEvent(t, "a", t0, map[string]string{"key": "k1", "first": "Ann"})}); err != nil {
		t.Fatal(err)
	}
	// b's poller reports the lead with its empty color, at b's clock of
	// crmsync's write: 30 s after the edit below was made in a.
	if _, err := bc.Apply(ctx, []pipeline.Event{leadEvent(t, "b", t0.Add(50*time.Second), map[string]string{"key": "k1", "first": "Ann", "color": ""})}); err != nil {
		t.Fatal(err)
	}
	// The edit made in a at t0+20s arrives now.
	if _, err := ab.Apply(ctx, []pipeline.Event{leadEvent(t, "a", t0.Add(20*time.Second), map[string]string{"key": "k1", "first": "Ann", "color": "crimson"})}); err != nil {
		t.Fatal(err)
	}
	toB.mu.Lock()
	defer toB.mu.Unlock()
	if n := len(toB.writes); n != 2 || toB.writes[1]["color"] != "crimson" {
		t.Fatalf("writes to b: %v; want the edit's color crimson written", toB.writes)
	}
}

// Two routes read one source; the faster one records the source's clear in
// the ledger they share. The slower one must still write the clear: the
// field was reported before, so its empty value is a user's clear, not the
// source's form of "no value".
func TestAClearSeenFirstByAnotherRouteOfTheSourceIsStillWritten(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	state := testenv.State(t)
	bus := testenv.Bus(t)
	toB, toC := &memorySink{}, &memorySink{}
	route := func(to string, sink pipeline.Sink) *pipeline.Runner {
		r := copyRoute("a", to, sink)
		r.Batch = pipeline.BatchPolicy{MaxObjects: 1, Linger: 10 * time.Millisecond}
		return newRunner(t, r, bus, state)
	}
	ab, ac := route("b", toB), route("c", toC)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	run := func(ctx context.Context, ru *pipeline.Runner) chan struct{} {
		done := make(chan struct{})
		wg.Add(1)
		go func() { defer wg.Done(); defer close(done); _ = ru.Run(ctx) }()
		return done
	}
	t0 := time.Now().Truncate(time.Second)
	publish := func(i int, f map[string]string) {
		t.Helper()
		publishLead(t, bus, "a", "1", t0.Add(time.Duration(i)*time.Second), f)
	}
	// Both routes write the lead.
	abCtx, stopAB := context.WithCancel(ctx)
	abDone := run(abCtx, ab)
	run(ctx, ac)
	publish(0, map[string]string{"key": "k1", "budget": "90000"})
	testenv.Eventually(t, "both routes to write the lead", func() bool {
		return ab.Stats.Settled.Load() == 1 && ac.Stats.Settled.Load() == 1
	})
	// a-b is held up; a-c takes the clear first and records it.
	stopAB()
	<-abDone
	publish(1, map[string]string{"key": "k1", "budget": ""})
	testenv.Eventually(t, "a-c to write the clear", func() bool { return ac.Stats.Settled.Load() == 2 })
	ab = route("b", toB)
	run(ctx, ab)
	testenv.Eventually(t, "a-b to take the clear", func() bool { return ab.Stats.Settled.Load() == 1 })
	for name, s := range map[string]*memorySink{"b": toB, "c": toC} {
		s.mu.Lock()
		w := s.writes
		s.mu.Unlock()
		if len(w) != 2 || w[1]["budget"] != "" || !hasField(w[1], "budget") {
			t.Errorf("writes to %s: %v; want the lead, then the clear of budget", name, w)
		}
	}
}
