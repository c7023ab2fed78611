package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// A route's position is its place in the change-event stream: backfill
// events, numbered in a stream of their own, neither move it nor show in
// it.
func TestBackfillEventsDoNotMoveTheRoutePosition(t *testing.T) {
	ctx := context.Background()
	bus, state := testenv.Bus(t), testenv.State(t)
	r := copyRoute("a", "b", &memorySink{})
	r.Batch = pipeline.BatchPolicy{Linger: 20 * time.Millisecond}
	ru := newRunner(t, r, bus, state)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); ru.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })

	at := time.Now().Add(-time.Hour)
	var backfill []pipeline.Event
	for i := range 5 {
		ev := pipeline.Event{Vendor: "a", Entity: "lead", ExternalID: fmt.Sprint("bf", i), Origin: pipeline.OriginBackfill,
			Fields: map[string]string{"key": fmt.Sprint("bf", i), "city": "Boston"}, ChangedAt: at, Version: "1"}
		if err := ev.Seal(); err != nil {
			t.Fatal(err)
		}
		backfill = append(backfill, ev)
	}
	if err := bus.PublishBatch(ctx, backfill); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the route to settle the backfill", func() bool { return ru.Stats.Settled.Load() == 5 })
	if pos, err := state.RoutePosition(ctx, r.Name); err != nil || pos != 0 || ru.Stats.LastSeq.Load() != 0 {
		t.Fatalf("after backfill events only: position %d (%v), last seq %d; want 0", pos, err, ru.Stats.LastSeq.Load())
	}
	publishLead(t, bus, "a", "1", time.Now(), map[string]string{"key": "k", "city": "Austin"})
	publishLead(t, bus, "a", "2", time.Now(), map[string]string{"key": "k2", "city": "Austin"})
	testenv.Eventually(t, "the route to settle the live events", func() bool { return ru.Stats.Settled.Load() == 7 })
	last, err := bus.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pos, err := state.RoutePosition(ctx, r.Name); err != nil || pos != last || last != 2 {
		t.Fatalf("position %d (%v), change-event stream's last seq %d; want 2 for both", pos, err, last)
	}
}
