package pipeline_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// copyRoute is the route from vendor from's leads into vendor to's, named
// "from-to", its fields copied one to one (copyMapper), writing into sink.
func copyRoute(from, to string, sink pipeline.Sink) pipeline.Route {
	return pipeline.Route{Name: from + "-" + to, From: from + ".lead", To: pipeline.Target{Vendor: to, Entity: "lead"},
		Mapper: copyMapper{from, to}, Sink: sink}
}

// elsewhere is r run by another instance: it does not share this
// process's record locks, so it writes a record while a route here holds
// it (see pipeline.RecordLocks).
func elsewhere(r pipeline.Route) pipeline.Route {
	r.Locks = pipeline.NewRecordLocks()
	return r
}

// newRunner makes the runner of r over bus and state, failing the test when
// the route is refused.
func newRunner(t *testing.T, r pipeline.Route, bus pipeline.ConsumerSource, state pipeline.RouteState) *pipeline.Runner {
	t.Helper()
	ru, err := pipeline.NewRunner(r, bus, state)
	if err != nil {
		t.Fatal(err)
	}
	return ru
}

// applyAustin has ru apply one change of vendor a's lead 1 (key "k"): its
// city became Austin just now.
func applyAustin(t *testing.T, ctx context.Context, ru *pipeline.Runner) pipeline.Result {
	t.Helper()
	ev := pipeline.Event{Vendor: "a", Entity: "lead", ExternalID: "1", Fields: map[string]string{"key": "k", "city": "Austin"},
		ChangedAt: time.Now()}
	if err := ev.Seal(); err != nil {
		t.Fatal(err)
	}
	res, err := ru.Apply(ctx, []pipeline.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// runTwoWay runs the reverse routes a-b and b-a (copied fields, 20 ms
// linger) over bus and state until the test ends, and returns them with
// the sinks they write into.
func runTwoWay(t *testing.T, bus pipeline.ConsumerSource, state pipeline.RouteState) (ab, ba *pipeline.Runner, toB, toA *memorySink) {
	t.Helper()
	toB, toA = &memorySink{}, &memorySink{}
	twoWay := func(from, to string, sink *memorySink) *pipeline.Runner {
		r := copyRoute(from, to, sink)
		r.Batch, r.Reverse = pipeline.BatchPolicy{Linger: 20 * time.Millisecond}, true
		return newRunner(t, r, bus, state)
	}
	ab, ba = twoWay("a", "b", toB), twoWay("b", "a", toA)
	runUntilCleanup(t, ab, ba)
	return ab, ba, toB, toA
}

// reporter returns a function that publishes a change of vendor's lead
// (id vendor+"1", key "k") made at at, and waits until the route from that
// vendor (from) settled it.
func reporter(t *testing.T, bus pipeline.Publisher, from map[string]*pipeline.Runner) func(vendor string, at time.Time, f map[string]string) {
	settled := map[string]int64{}
	return func(vendor string, at time.Time, f map[string]string) {
		t.Helper()
		f["key"] = "k"
		publishLead(t, bus, vendor, vendor+"1", at, f)
		settled[vendor]++
		ru, n := from[vendor], settled[vendor]
		testenv.Eventually(t, fmt.Sprintf("%s to settle %d events", ru.Name(), n),
			func() bool { return ru.Stats.Settled.Load() >= n })
	}
}

// runUntilCleanup runs the routes until the test ends.
func runUntilCleanup(t *testing.T, runners ...*pipeline.Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// publishLead publishes a sealed change of vendor's lead id made at at,
// versioned by that time.
func publishLead(t *testing.T, bus pipeline.Publisher, vendor, id string, at time.Time, f map[string]string) {
	t.Helper()
	ev := pipeline.Event{Vendor: vendor, Entity: "lead", ExternalID: id, Fields: f, ChangedAt: at, Version: at.String()}
	if err := ev.Seal(); err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

// leadEvent is a sealed change of vendor's lead 1 made at at, versioned by
// that time.
func leadEvent(t *testing.T, vendor string, at time.Time, f map[string]string) pipeline.Event {
	t.Helper()
	e := pipeline.Event{Vendor: vendor, Entity: "lead", ExternalID: "1", Fields: f, ChangedAt: at, Version: at.String()}
	if err := e.Seal(); err != nil {
		t.Fatal(err)
	}
	return e
}
