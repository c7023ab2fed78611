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
	// change publishes a new city of the lead at vendor a (id 1) or b (id
	// b1), changed at at, and waits until the route reading that vendor
	// settled it: ab and ba settle their events one by one, in order.
	var settled [2]int64
	change := func(vendor string, at time.Time, city string) {
		t.Helper()
		r, id, n := ab, "1", &settled[0]
		if vendor == "b" {
			r, id, n = ba, "b1", &settled[1]
		}
		publishLead(t, bus, vendor, id, at, map[string]string{"key": "k", "city": city})
		*n++
		testenv.Eventually(t, fmt.Sprintf("%s to settle %d events", r.Name(), *n), func() bool { return r.Stats.Settled.Load() >= *n })
	}
	// Vendors stamp changes to the second; the route orders them so.
	t0 := time.Now().Truncate(time.Second)
	// A changes; the route writes it to B.
	change("a", t0, "Austin")
	// B's poller sees our write (B's own change time is later): nothing
	// goes back to A.
	change("b", t0.Add(time.Second), "Austin")
	if toB.count() != 1 || toA.count() != 0 {
		t.Fatalf("writes: to B %d, to A %d; want 1 and 0", toB.count(), toA.count())
	}
	// A real change in B does go to A, and A's poller then sees it: no echo to B.
	change("b", t0.Add(2*time.Second), "Boston")
	change("a", t0.Add(4*time.Second), "Boston")
	if toB.count() != 1 || toA.count() != 1 {
		t.Fatalf("writes: to B %d, to A %d; want 1 and 1", toB.count(), toA.count())
	}
	// An older change from A that arrives late loses to B's newer one.
	change("a", t0.Add(3*time.Second), "Stale")
	if toB.count() != 1 {
		t.Fatalf("a stale change was written: %v", toB.writes)
	}
	// A changes twice; B reports the first of those values late, read
	// before the second write was sent (stamped no later than it, on B's
	// clock): that is crmsync's own write echoing back and must not turn A
	// back.
	change("a", t0.Add(10*time.Second), "Denver")
	change("a", t0.Add(11*time.Second), "Erie")
	aWrites := toA.count()
	change("b", time.Now().Truncate(time.Second), "Denver")
	if toA.count() != aWrites {
		t.Fatalf("a late echo of our own write turned A back: %v", toA.writes)
	}
	// A user of B sets the city back to Denver after crmsync's latest
	// write: a value crmsync once wrote, but a change made at B, which goes
	// to A.
	change("b", t0.Add(20*time.Second), "Denver")
	if toA.count() != aWrites+1 || toA.writes[len(toA.writes)-1]["city"] != "Denver" {
		t.Fatalf("a user setting B back to a value crmsync wrote before was taken for an echo: %v", toA.writes[aWrites:])
	}
	change("a", t0.Add(21*time.Second), "Denver") // A's poller sees that write

	// A changes; B reports crmsync's write back stamped with B's later
	// clock; then A's next change, made before B's stamp but after the
	// first change, arrives (delayed by a crash and redelivery). The echo
	// is not a change made at B's time: A's later change must still win.
	change("a", t0.Add(30*time.Second), "Fargo")
	change("b", t0.Add(40*time.Second), "Fargo")
	bWrites := toB.count()
	change("a", t0.Add(35*time.Second), "Galway")
	if toB.count() != bWrites+1 || toB.writes[len(toB.writes)-1]["city"] != "Galway" {
		t.Fatalf("A's change after its echoed write was dropped: %v", toB.writes[bWrites:])
	}
}
