package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// heldSettle is a route state whose Settle waits for release, so that a
// test can settle another route's batch in between.
type heldSettle struct {
	pipeline.RouteState
	reached, release chan struct{}
}

func (h *heldSettle) Settle(ctx context.Context, s pipeline.Settlement) ([]int64, error) {
	close(h.reached)
	<-h.release
	return h.RouteState.Settle(ctx, s)
}

func sourceStamp(t *testing.T, state pipeline.State, field string) pipeline.FieldStamp {
	t.Helper()
	id := lookupCanonical(t, state)
	got, err := state.Ledger(context.Background(), "a", "lead", []string{id})
	if err != nil {
		t.Fatal(err)
	}
	return got[id].Fields[field]
}

func lookupCanonical(t *testing.T, state pipeline.State) string {
	t.Helper()
	id, err := state.Lookup(context.Background(), pipeline.Key{Vendor: "a", Entity: "lead", Kind: pipeline.KindID, Value: "1"})
	if err != nil {
		t.Fatalf("the lead has no canonical id: %v", err)
	}
	return id
}

// Every route from a source shares the source's ledger entries. A route
// settling a batch it read before another route settled a newer change of
// the same record must not put the older knowledge back: the source's clear
// would be forgotten, and a late echo of the old value could then win over
// it.
func TestASettleDoesNotUndoWhatAnotherRouteOfTheSourceSettledMeanwhile(t *testing.T) {
	ctx := context.Background()
	state := testenv.State(t)
	bus := testenv.Bus(t)
	held := &heldSettle{RouteState: state, reached: make(chan struct{}), release: make(chan struct{})}
	ab := newRunner(t, copyRoute("a", "b", &memorySink{}), bus, held)
	ac := newRunner(t, copyRoute("a", "c", &memorySink{}), bus, state)
	t0 := time.Date(2026, 12, 4, 7, 8, 10, 0, time.UTC)
	set := leadEvent(t, "a", t0, map[string]string{"key": "k1", "budget": "105000"})
	clear := leadEvent(t, "a", t0.Add(9*time.Second), map[string]string{"key": "k1", "budget": ""})

	// a-b writes the value and is held before it settles.
	done := make(chan error, 1)
	go func() { _, err := ab.Apply(ctx, []pipeline.Event{set}); done <- err }()
	<-held.reached
	// Meanwhile a-c writes the value and then the clear.
	for _, ev := range []pipeline.Event{set, clear} {
		if _, err := ac.Apply(ctx, []pipeline.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	close(held.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := sourceStamp(t, state, "budget")
	if st.Hash != pipeline.ValueHash("") || !st.At.Equal(clear.ChangedAt) {
		t.Errorf("the source's budget in the ledger = %+v; want the clear at %s, which a-c settled after a-b read the entry", st, clear.ChangedAt)
	}
}

// A value and its clear coalesced into one batch: the source held the
// field, so the clear is a change made at its time, not the source's form
// of "no value".
func TestAValueClearedWithinOneBatchIsRecordedAsAClear(t *testing.T) {
	ctx := context.Background()
	state := testenv.State(t)
	toB := &memorySink{}
	ab := newRunner(t, copyRoute("a", "b", toB), testenv.Bus(t), state)
	t0 := time.Date(2026, 12, 4, 7, 8, 10, 0, time.UTC)
	clear := leadEvent(t, "a", t0.Add(9*time.Second), map[string]string{"key": "k1", "budget": ""})
	if _, err := ab.Apply(ctx, []pipeline.Event{leadEvent(t, "a", t0, map[string]string{"key": "k1", "budget": "105000"}), clear}); err != nil {
		t.Fatal(err)
	}
	toB.mu.Lock()
	w := toB.writes
	toB.mu.Unlock()
	if len(w) != 1 || !hasField(w[0], "budget") || w[0]["budget"] != "" {
		t.Errorf("writes to b: %v; want the lead with budget cleared", w)
	}
	st := sourceStamp(t, state, "budget")
	if st.Hash != pipeline.ValueHash("") || !st.At.Equal(clear.ChangedAt) {
		t.Errorf("the source's budget in the ledger = %+v; want the clear stamped at %s", st, clear.ChangedAt)
	}
}
