package pipeline_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/checkpoints/natskv"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// runningSource counts how many instances run it at once.
type runningSource struct {
	running, peak atomic.Int32
	runs          atomic.Int32
}

func (s *runningSource) Name() string { return "ivvy.lead" }

func (s *runningSource) Run(ctx context.Context) error {
	n := s.running.Add(1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	s.runs.Add(1)
	<-ctx.Done()
	s.running.Add(-1)
	return nil
}

// sharedLeases is the lease store of instances sharing one NATS cluster.
func sharedLeases(t *testing.T) *natskv.Store {
	t.Helper()
	return testenv.NATSState(t, testenv.JetStream(t, testenv.NATS(t)))
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLeasedSourceRunsOnOneInstanceAndFailsOver(t *testing.T) {
	leases := sharedLeases(t)
	src := &runningSource{}
	const ttl = 300 * time.Millisecond
	start := func(holder string) (*pipeline.Leased, context.CancelFunc, chan error) {
		l := &pipeline.Leased{Source: src, Leases: leases, Holder: holder, TTL: ttl}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		return l, cancel, done
	}
	a, stopA, doneA := start("a")
	eventually(t, "a to run the source", a.Held)
	b, stopB, doneB := start("b")
	defer func() { stopB(); <-doneB }()
	// b stands by for as long as a renews: well past the TTL.
	time.Sleep(3 * ttl) // a span of time to observe, not a wait for a condition
	if b.Held() || src.peak.Load() != 1 {
		t.Fatalf("b held=%v, peak concurrent runs %d: the source ran on two instances", b.Held(), src.peak.Load())
	}
	// a stops and releases: b takes over within one renewal interval.
	stopA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	eventually(t, "b to take over", b.Held)
	if src.peak.Load() != 1 {
		t.Fatalf("peak concurrent runs %d", src.peak.Load())
	}
}

func TestLeasedSourceTakesOverAnExpiredLease(t *testing.T) {
	leases := sharedLeases(t)
	const ttl = 300 * time.Millisecond
	// A holder that died without releasing.
	if ok, err := leases.TryLease(context.Background(), "source:ivvy.lead", "dead", ttl); err != nil || !ok {
		t.Fatal(ok, err)
	}
	taken := time.Now()
	src := &runningSource{}
	l := &pipeline.Leased{Source: src, Leases: leases, Holder: "b", TTL: ttl}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = l.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	eventually(t, "the expired lease to be taken", l.Held)
	if waited := time.Since(taken); waited < ttl {
		t.Fatalf("took a live lease after %v (ttl %v)", waited, ttl)
	}
}
