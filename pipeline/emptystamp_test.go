package pipeline_test

import (
	"context"
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
	ab, err := pipeline.NewRunner(pipeline.Route{Name: "a-b", From: "a.lead", To: pipeline.Target{Vendor: "b", Entity: "lead"},
		Mapper: copyMapper{"a", "b"}, Sink: toB}, bus, state)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := pipeline.NewRunner(pipeline.Route{Name: "b-c", From: "b.lead", To: pipeline.Target{Vendor: "c", Entity: "lead"},
		Mapper: copyMapper{"b", "c"}, Sink: toC}, bus, state)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 4, 6, 5, 35, 0, time.UTC)
	ev := func(vendor string, at time.Time, f map[string]string) pipeline.Event {
		e := pipeline.Event{Vendor: vendor, Entity: "lead", ExternalID: "1", Fields: f, ChangedAt: at, Version: at.String()}
		if err := e.Seal(); err != nil {
			t.Fatal(err)
		}
		return e
	}
	// The lead reaches b (it has no color).
	if _, err := ab.Apply(ctx, []pipeline.Event{ev("a", t0, map[string]string{"key": "k1", "first": "Ann"})}); err != nil {
		t.Fatal(err)
	}
	// b's poller reports the lead with its empty color, at b's clock of
	// crmsync's write: 30 s after the edit below was made in a.
	if _, err := bc.Apply(ctx, []pipeline.Event{ev("b", t0.Add(50*time.Second), map[string]string{"key": "k1", "first": "Ann", "color": ""})}); err != nil {
		t.Fatal(err)
	}
	// The edit made in a at t0+20s arrives now.
	if _, err := ab.Apply(ctx, []pipeline.Event{ev("a", t0.Add(20*time.Second), map[string]string{"key": "k1", "first": "Ann", "color": "crimson"})}); err != nil {
		t.Fatal(err)
	}
	toB.mu.Lock()
	defer toB.mu.Unlock()
	if n := len(toB.writes); n != 2 || toB.writes[1]["color"] != "crimson" {
		t.Fatalf("writes to b: %v; want the edit's color crimson written", toB.writes)
	}
}
