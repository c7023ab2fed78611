package pipeline_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// ledgerReads counts a route's reads of the write ledger.
type ledgerReads struct {
	pipeline.RouteState
	n atomic.Int64
}

func (s *ledgerReads) Ledger(ctx context.Context, vendor, entity string, keys []string) (map[string]pipeline.LedgerEntry, error) {
	s.n.Add(1)
	return s.RouteState.Ledger(ctx, vendor, entity, keys)
}

// gateSink holds its first write until open closes, and keeps the city of
// every record it writes, in order, and the most writes it ever had at once.
type gateSink struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once

	mu      sync.Mutex
	cities  []string
	writing int
	most    int
}

func newGateSink() *gateSink {
	return &gateSink{entered: make(chan struct{}), open: make(chan struct{})}
}

func (s *gateSink) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.open:
	default:
		close(s.open)
	}
}

func (s *gateSink) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	s.mu.Lock()
	s.writing++
	s.most = max(s.most, s.writing)
	s.mu.Unlock()
	s.once.Do(func() {
		close(s.entered)
		select {
		case <-s.open:
		case <-ctx.Done():
		}
	})
	out := make([]pipeline.Outcome, len(recs))
	s.mu.Lock()
	for i, r := range recs {
		s.cities = append(s.cities, r.Fields["city"])
		out[i] = pipeline.Outcome{TargetID: "t-" + r.Key}
	}
	s.writing--
	s.mu.Unlock()
	return out
}

func (s *gateSink) written() (cities []string, most int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cities...), s.most
}

// TestARouteReadsTheNextBatchWhileOneIsWritten: while the target takes its
// time over one batch's write, the route already reads the next batch's
// records against the ledger; the next write waits for the first to end.
func TestARouteReadsTheNextBatchWhileOneIsWritten(t *testing.T) {
	bus := testenv.Bus(t)
	state := &ledgerReads{RouteState: testenv.State(t)}
	sink := newGateSink()
	r := copyRoute("a", "b", sink)
	r.Batch.MaxObjects, r.Batch.Linger, r.Locks = 1, 20*time.Millisecond, pipeline.NewRecordLocks()
	ru := newRunner(t, r, bus, state)
	runUntilCleanup(t, ru)
	t.Cleanup(sink.release) // before the route stops (cleanups run last first)

	t0 := time.Now().Truncate(time.Second)
	publishLead(t, bus, "a", "1", t0, map[string]string{"key": "k1", "city": "Austin"})
	<-sink.entered
	before := state.n.Load()
	publishLead(t, bus, "a", "2", t0, map[string]string{"key": "k2", "city": "Boston"})
	testenv.Eventually(t, "the second batch to be read against the ledger while the first is written", func() bool {
		return state.n.Load() > before
	})
	if cities, _ := sink.written(); len(cities) != 0 {
		t.Fatalf("the target was written %v while its first write was still in flight", cities)
	}
	sink.release()
	testenv.Eventually(t, "both batches to settle", func() bool { return ru.Stats.Settled.Load() == 2 })
	cities, most := sink.written()
	if len(cities) != 2 || most != 1 {
		t.Fatalf("the target got %v, at most %d writes at once; want Austin and Boston, one write at a time", cities, most)
	}
}

// TestARecordInTwoBatchesInFlightIsWrittenInOrder: the next batch holds a
// newer change of the record the first batch is still writing. It waits
// for the first batch to settle, then writes the newer value over it.
func TestARecordInTwoBatchesInFlightIsWrittenInOrder(t *testing.T) {
	bus := testenv.Bus(t)
	sink := newGateSink()
	r := copyRoute("a", "b", sink)
	r.Batch.MaxObjects, r.Batch.Linger, r.Locks = 1, 20*time.Millisecond, pipeline.NewRecordLocks()
	ru := newRunner(t, r, bus, testenv.State(t))
	runUntilCleanup(t, ru)
	t.Cleanup(sink.release) // before the route stops (cleanups run last first)

	t0 := time.Now().Truncate(time.Second)
	publishLead(t, bus, "a", "1", t0, map[string]string{"key": "k", "city": "Austin"})
	<-sink.entered
	publishLead(t, bus, "a", "1", t0.Add(time.Second), map[string]string{"key": "k", "city": "Boston"})
	sink.release()
	testenv.Eventually(t, "both batches to settle", func() bool { return ru.Stats.Settled.Load() == 2 })
	if cities, _ := sink.written(); len(cities) != 2 || cities[0] != "Austin" || cities[1] != "Boston" {
		t.Fatalf("the target got %v; want Austin, then Boston", cities)
	}
}
