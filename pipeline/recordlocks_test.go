package pipeline_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// cityTarget is one target record's city, written by several routes.
type cityTarget struct {
	mu   sync.Mutex
	city string
}

// citySink writes the city into a cityTarget. A sink with wait set holds
// its write until wait closes or a second passes; one with landed set
// closes it once its write is applied.
type citySink struct {
	target  *cityTarget
	entered chan struct{}
	wait    <-chan struct{}
	landed  chan struct{}
	once    sync.Once
}

func (s *citySink) Write(_ context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	if s.entered != nil {
		s.once.Do(func() { close(s.entered) })
	}
	if s.wait != nil {
		select {
		case <-s.wait:
		case <-time.After(time.Second):
		}
	}
	out := make([]pipeline.Outcome, len(recs))
	for i, r := range recs {
		if c, ok := r.Fields["city"]; ok {
			s.target.mu.Lock()
			s.target.city = c
			s.target.mu.Unlock()
		}
		out[i] = pipeline.Outcome{TargetID: "t-" + r.Key}
	}
	if s.landed != nil {
		close(s.landed)
		s.landed = nil
	}
	return out
}

// TestTwoRoutesWriteOneTargetRecordOneAtATime: routes from two sources
// write the same target record. The route with the older change is slow to
// write it; the newer change, from the other source, comes meanwhile. Had
// both writes been in flight together, the older could land last while the
// ledger, settled in the other order, showed the newer: the target would
// keep the older value and nothing would send the newer again. The second
// route waits for the first to settle, then writes the newer value.
func TestTwoRoutesWriteOneTargetRecordOneAtATime(t *testing.T) {
	bus, state := testenv.Bus(t), testenv.State(t)
	target := &cityTarget{}
	entered, landed := make(chan struct{}), make(chan struct{})
	slow := &citySink{target: target, entered: entered, wait: landed}
	quick := &citySink{target: target, landed: landed}
	locks := pipeline.NewRecordLocks()
	route := func(from string, sink pipeline.Sink) *pipeline.Runner {
		r := copyRoute(from, "b", sink)
		r.Batch.Linger, r.Locks = 20*time.Millisecond, locks
		return newRunner(t, r, bus, state)
	}
	ab, cb := route("a", slow), route("c", quick)
	runUntilCleanup(t, ab, cb)

	t0 := time.Now().Truncate(time.Second)
	publishLead(t, bus, "a", "a1", t0, map[string]string{"key": "k", "city": "Austin"})
	<-entered
	publishLead(t, bus, "c", "c1", t0.Add(time.Second), map[string]string{"key": "k", "city": "Boston"})
	testenv.Eventually(t, "both routes to settle their event", func() bool {
		return ab.Stats.Settled.Load() == 1 && cb.Stats.Settled.Load() == 1
	})
	target.mu.Lock()
	defer target.mu.Unlock()
	if target.city != "Boston" {
		t.Fatalf("the target holds %q, the older change; want Boston, the newer", target.city)
	}
}
