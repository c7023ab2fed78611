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

// copyMapper maps vendor fields one to one (prefixing nothing) and links the
// records of both vendors by the "key" field.
type copyMapper struct{ from, to string }

func (m copyMapper) Map(ev pipeline.Event) (pipeline.Mapped, error) {
	fields := map[string]string{}
	for k, v := range ev.Fields {
		fields[k] = v
	}
	return pipeline.Mapped{
		Keys: []pipeline.Key{
			{Vendor: m.from, Entity: "lead", Kind: pipeline.KindID, Value: ev.ExternalID},
			{Vendor: "any", Entity: "lead", Kind: pipeline.KindEmail, Value: ev.Fields["key"]},
		},
		Fields: fields, SourceFields: ev.Fields,
	}, nil
}

// memorySink is a target that keeps what it was given, to observe which
// writes the route decided to make.
type memorySink struct {
	mu     sync.Mutex
	writes []map[string]string
}

func (s *memorySink) Write(_ context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]pipeline.Outcome, len(recs))
	for i, r := range recs {
		s.writes = append(s.writes, r.Fields)
		out[i] = pipeline.Outcome{TargetID: "t-" + r.Key}
	}
	return out
}

func (s *memorySink) count() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.writes) }

func TestTwoWayRoutesDoNotEcho(t *testing.T) {
	bus := testenv.Bus(t)
	ab, ba, toB, toA := runTwoWay(t, bus, testenv.State(t))
	publish := func(vendor, id string, at time.Time, f map[string]string) {
		t.Helper()
		publishLead(t, bus, vendor, id, at, f)
	}
	settled := func(r *pipeline.Runner, n int64) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("%s to settle %d events", r.Name(), n), func() bool { return r.Stats.Settled.Load() >= n })
	}
	// Vendors stamp changes to the second; the route orders them so.
	t0 := time.Now().Truncate(time.Second)
	// A changes; the route writes it to B.
	publish("a", "1", t0, map[string]string{"key": "k", "city": "Austin"})
	settled(ab, 1)
	// B's poller sees our write (B's own change time is later): nothing
	// goes back to A.
	publish("b", "b1", t0.Add(time.Second), map[string]string{"key": "k", "city": "Austin"})
	settled(ba, 1)
	if toB.count() != 1 || toA.count() != 0 {
		t.Fatalf("writes: to B %d, to A %d; want 1 and 0", toB.count(), toA.count())
	}
	// A real change in B does go to A, and A's poller then sees it: no echo to B.
	publish("b", "b1", t0.Add(2*time.Second), map[string]string{"key": "k", "city": "Boston"})
	settled(ba, 2)
	publish("a", "1", t0.Add(4*time.Second), map[string]string{"key": "k", "city": "Boston"})
	settled(ab, 2)
	if toB.count() != 1 || toA.count() != 1 {
		t.Fatalf("writes: to B %d, to A %d; want 1 and 1", toB.count(), toA.count())
	}
	// An older change from A that arrives late loses to B's newer one.
	publish("a", "1", t0.Add(3*time.Second), map[string]string{"key": "k", "city": "Stale"})
	settled(ab, 3)
	if toB.count() != 1 {
		t.Fatalf("a stale change was written: %v", toB.writes)
	}
	// A changes twice; B reports the first of those values late, stamped
	// with B's newer clock: that is crmsync's own write echoing back and
	// must not turn A back.
	publish("a", "1", t0.Add(10*time.Second), map[string]string{"key": "k", "city": "Denver"})
	settled(ab, 4)
	publish("a", "1", t0.Add(11*time.Second), map[string]string{"key": "k", "city": "Erie"})
	settled(ab, 5)
	aWrites := toA.count()
	publish("b", "b1", t0.Add(20*time.Second), map[string]string{"key": "k", "city": "Denver"})
	settled(ba, 3)
	if toA.count() != aWrites {
		t.Fatalf("a late echo of our own write turned A back: %v", toA.writes)
	}

	// A changes; B reports crmsync's write back stamped with B's later
	// clock; then A's next change, made before B's stamp but after the
	// first change, arrives (delayed by a crash and redelivery). The echo
	// is not a change made at B's time: A's later change must still win.
	publish("a", "1", t0.Add(30*time.Second), map[string]string{"key": "k", "city": "Fargo"})
	settled(ab, 6)
	publish("b", "b1", t0.Add(40*time.Second), map[string]string{"key": "k", "city": "Fargo"})
	settled(ba, 4)
	bWrites := toB.count()
	publish("a", "1", t0.Add(35*time.Second), map[string]string{"key": "k", "city": "Galway"})
	settled(ab, 7)
	if toB.count() != bWrites+1 || toB.writes[len(toB.writes)-1]["city"] != "Galway" {
		t.Fatalf("A's change after its echoed write was dropped: %v", toB.writes[bWrites:])
	}
}
