package pipeline_test

import (
	"context"
	"errors"
	"sync/atomic"
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

// crashingSettle is a route state whose Settle fails while crash is set: the
// process died after its write was sent and before the batch settled.
type crashingSettle struct {
	pipeline.RouteState
	crash atomic.Bool
}

func (c *crashingSettle) Settle(ctx context.Context, s pipeline.Settlement) ([]int64, error) {
	if c.crash.Load() {
		return nil, errors.New("the process died before the batch settled")
	}
	return c.RouteState.Settle(ctx, s)
}

// The target's poller reads a record while crmsync's write of a field is on
// its way, and reports the field as it was before (empty), stamped with the
// target's clock of that moment. That report is no change made in the
// target: it must neither reach other vendors as a clear nor, once the
// process died before settling and the edit comes again, block the edit as
// "a newer change in the target".
func TestAReportReadWhileAWriteWasOnItsWayIsNoChange(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	state := testenv.State(t)
	bus := testenv.Bus(t)
	crashing := &crashingSettle{RouteState: state}
	toB, toC := &memorySink{}, &memorySink{}
	ab, err := pipeline.NewRunner(pipeline.Route{Name: "a-b", From: "a.lead", To: pipeline.Target{Vendor: "b", Entity: "lead"},
		Mapper: copyMapper{"a", "b"}, Sink: toB, Reverse: true}, bus, crashing)
	if err != nil {
		t.Fatal(err)
	}
	// b's poller feeds the live route b-c.
	bc, err := pipeline.NewRunner(pipeline.Route{Name: "b-c", From: "b.lead", To: pipeline.Target{Vendor: "c", Entity: "lead"},
		Mapper: copyMapper{"b", "c"}, Sink: toC, Batch: pipeline.BatchPolicy{Linger: 10 * time.Millisecond}}, bus, state)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = bc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	report := func(n int64, at time.Time, f map[string]string) {
		t.Helper()
		if err := bus.Publish(ctx, leadEvent(t, "b", at, f)); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, "b-c to take b's report", func() bool { return bc.Stats.Settled.Load() == n })
	}
	// The lead and its edit were made in a a minute ago (a backlog).
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	created := leadEvent(t, "a", t0, map[string]string{"key": "k1", "first": "Ann"})
	edited := leadEvent(t, "a", t0.Add(time.Second), map[string]string{"key": "k1", "first": "Ann", "color": "crimson"})
	if _, err := ab.Apply(ctx, []pipeline.Event{created}); err != nil {
		t.Fatal(err)
	}
	report(1, time.Now(), map[string]string{"key": "k1", "first": "Ann"})
	// The edit is sent to b; the process dies before the batch settles.
	sent := time.Now()
	crashing.crash.Store(true)
	if _, err := ab.Apply(ctx, []pipeline.Event{edited}); err == nil {
		t.Fatal("the batch settled although its state failed")
	}
	crashing.crash.Store(false)
	// b's poller had read the lead before the edit landed: color empty,
	// stamped with b's clock (to the second) of that read.
	report(2, sent.Truncate(time.Second), map[string]string{"key": "k1", "first": "Ann", "color": ""})
	// The edit comes again (the bus redelivers it).
	if _, err := ab.Apply(ctx, []pipeline.Event{edited}); err != nil {
		t.Fatal(err)
	}
	toB.mu.Lock()
	wb := toB.writes
	toB.mu.Unlock()
	if len(wb) != 3 || wb[2]["color"] != "crimson" {
		t.Errorf("writes to b: %v; want the lead, the edit, and the redelivered edit written again", wb)
	}
	toC.mu.Lock()
	wc := toC.writes
	toC.mu.Unlock()
	for _, w := range wc {
		if v, ok := w["color"]; ok && v != "crimson" {
			t.Errorf("writes to c: %v; the stale empty color reached c as a clear", wc)
		}
	}
}

// The source's poller reads a record just before crmsync's write of one of
// its fields lands there, and the first report of the record reaches a
// target that does not have it yet. The stale field is no change at the
// source, but the record must not be created without it (iVvy refuses a
// contact without a first name): it is created with the value read, and the
// newer one follows with the next report.
func TestARecordNewToTheTargetIsCreatedWithFieldsReadBeforeAWriteLanded(t *testing.T) {
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	createdThenEdited(t, t0, t0.Add(time.Second), t0.Add(time.Second))
}

// A value restored into a record new to the target (read before crmsync's
// newer write of it landed) takes the time of the change that produced it,
// not the later clock of the report that carried it: an edit made at the
// source in between, stamped earlier than that report's clock (sources
// stamp to the millisecond, targets to the second), still reaches the
// target. Before, the restored value took the report's time and the edit
// was dropped as older.
func TestARestoredValueDoesNotOutrankAnEditMadeBeforeItsReport(t *testing.T) {
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	// b stamps to the second: its report of the lead as crmsync created it
	// there, read before the edit landed, is stamped after the edit.
	createdThenEdited(t, t0.Add(100*time.Millisecond), t0.Add(300*time.Millisecond), t0.Add(time.Second))
}

// createdThenEdited has the two-way route a-b write a lead made at created
// and its first name edited at edited, then b report the lead twice to the
// route b-c: at reported, as crmsync created it (read before the edit
// landed), then as edited. c must get the lead created whole and the edit
// last.
func createdThenEdited(t *testing.T, created, edited, reported time.Time) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	state := testenv.State(t)
	bus := testenv.Bus(t)
	toB, toC := &memorySink{}, &memorySink{}
	ab := newRunner(t, pipeline.Route{Name: "a-b", From: "a.lead", To: pipeline.Target{Vendor: "b", Entity: "lead"},
		Mapper: copyMapper{"a", "b"}, Sink: toB, Reverse: true}, bus, state)
	// b's poller feeds the live route b-c.
	bc := newRunner(t, pipeline.Route{Name: "b-c", From: "b.lead", To: pipeline.Target{Vendor: "c", Entity: "lead"},
		Mapper: copyMapper{"b", "c"}, Sink: toC, Batch: pipeline.BatchPolicy{Linger: 10 * time.Millisecond}}, bus, state)
	done := make(chan struct{})
	go func() { defer close(done); _ = bc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for _, ev := range []pipeline.Event{
		leadEvent(t, "a", created, map[string]string{"key": "k1", "first": "Ann", "last": "Lee"}),
		leadEvent(t, "a", edited, map[string]string{"key": "k1", "first": "Ann-edited", "last": "Lee"}),
	} {
		if _, err := ab.Apply(ctx, []pipeline.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	report := func(n int64, at time.Time, f map[string]string) {
		t.Helper()
		if err := bus.Publish(ctx, leadEvent(t, "b", at, f)); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, "b-c to take b's report", func() bool { return bc.Stats.Settled.Load() == n })
	}
	report(1, reported, map[string]string{"key": "k1", "first": "Ann", "last": "Lee"})
	report(2, time.Now(), map[string]string{"key": "k1", "first": "Ann-edited", "last": "Lee"})
	toC.mu.Lock()
	defer toC.mu.Unlock()
	if len(toC.writes) == 0 || toC.writes[0]["first"] != "Ann" || toC.writes[0]["last"] != "Lee" {
		t.Fatalf("writes to c: %v; want the lead created whole, first name included", toC.writes)
	}
	if last := toC.writes[len(toC.writes)-1]; last["first"] != "Ann-edited" {
		t.Fatalf("writes to c: %v; want the edited first name last", toC.writes)
	}
}
