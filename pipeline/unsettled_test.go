package pipeline_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sinktest"
)

// hookSink is a memorySink that runs during a write, after the route
// marked the values it writes as its own and before it settles them.
type hookSink struct {
	memorySink
	once   sync.Once
	during func()
}

func (s *hookSink) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	s.once.Do(s.during)
	return s.memorySink.Write(ctx, recs)
}

// TestAReportOfAWriteNotYetSettledKeepsTheChangeTime: a's lead is made at
// t0 and written into b (as LeadExec's leads go to SharpSpring). b's
// poller reads it while the write is landing, before the route settled
// it, stamped with b's own later clock (t0+3s), and the route from b writes
// it into c before the route from a does. An edit made at a at t0+1s must
// still reach c: what c holds is a's change of t0, not a change made at b
// at t0+3s.
func TestAReportOfAWriteNotYetSettledKeepsTheChangeTime(t *testing.T) {
	ctx := context.Background()
	bus, state := testenv.Bus(t), testenv.State(t)
	toC := &memorySink{}
	ac := newRunner(t, copyRoute("a", "c", toC), bus, state)
	bc := newRunner(t, copyRoute("b", "c", toC), bus, state)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	made := map[string]string{"key": "k", "city": "Austin"}
	toB := &hookSink{during: func() {
		// b reports the lead being written, stamped by b's clock.
		if _, err := bc.Apply(ctx, []pipeline.Event{leadEvent(t, "b", t0.Add(3*time.Second), made)}); err != nil {
			t.Error(err)
		}
	}}
	ab := copyRoute("a", "b", toB)
	ab.Reverse = true // b's poller reports what the route writes
	abRunner := newRunner(t, ab, bus, state)

	create := leadEvent(t, "a", t0.Add(100*time.Millisecond), made)
	for _, ru := range []*pipeline.Runner{abRunner, ac} {
		if _, err := ru.Apply(ctx, []pipeline.Event{create}); err != nil {
			t.Fatal(err)
		}
	}
	if toB.count() != 1 || toC.count() != 1 {
		t.Fatalf("writes: into b %d, into c %d; want 1 and 1", toB.count(), toC.count())
	}
	edit := leadEvent(t, "a", t0.Add(time.Second+100*time.Millisecond), map[string]string{"key": "k", "city": "Boston"})
	if _, err := ac.Apply(ctx, []pipeline.Event{edit}); err != nil {
		t.Fatal(err)
	}
	if toC.count() != 2 || toC.writes[1]["city"] != "Boston" {
		t.Fatalf("a's edit, made after the lead was made and before b's report of it, did not reach c: writes %v", toC.writes)
	}
}

// runRoute runs r (10 ms linger) over bus and state until the test ends.
func runRoute(t *testing.T, r pipeline.Route, bus pipeline.ConsumerSource, state pipeline.RouteState) *pipeline.Runner {
	t.Helper()
	r.Batch = pipeline.BatchPolicy{Linger: 10 * time.Millisecond}
	ru := newRunner(t, r, bus, state)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ru.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	return ru
}

// lostSink stands for a process killed while its write was on its way: the
// write never lands, and the route never settles it.
type lostSink struct{ cancel context.CancelFunc }

func (s lostSink) Write(_ context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	s.cancel()
	return sinktest.Unanswered(len(recs))
}

// TestAnEmptyFieldAfterAWriteThatNeverLandedIsNoClear: crmsync sends a's
// color into b and is killed before the write lands. b then reports the
// lead with the color still empty, stamped later (crmsync's write of
// other fields from another instance, say). That is no user clearing the
// color in b: the field never held anything there. When the event is
// written again, the color reaches b.
func TestAnEmptyFieldAfterAWriteThatNeverLandedIsNoClear(t *testing.T) {
	bus, state := testenv.Bus(t), testenv.State(t)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	edit := leadEvent(t, "a", t0.Add(200*time.Millisecond), map[string]string{"key": "k", "city": "Austin", "color": "crimson"})

	loseWrite(t, bus, state, edit)
	// b reports the lead, its color empty, stamped after the write was sent.
	bc := newRunner(t, copyRoute("b", "c", &memorySink{}), bus, state)
	seen := leadEvent(t, "b", time.Now().Add(5*time.Second).Truncate(time.Second), map[string]string{"key": "k", "city": "Austin", "color": ""})
	if _, err := bc.Apply(context.Background(), []pipeline.Event{seen}); err != nil {
		t.Fatal(err)
	}
	toB := &memorySink{}
	again := copyRoute("a", "b", toB)
	again.Reverse = true
	if _, err := newRunner(t, again, bus, state).Apply(context.Background(), []pipeline.Event{edit}); err != nil {
		t.Fatal(err)
	}
	if toB.count() != 1 || toB.writes[0]["color"] != "crimson" {
		t.Fatalf("the color never written into b was taken for a clear made there: writes %v", toB.writes)
	}
}

// TestAnEarlierWriteReadBeforeTheLatestIsNoChange: crmsync writes a's new
// lead into b and is killed before settling; the restarted route writes
// the lead again with a's edit. b's poller had read the lead between the
// two writes, stamped with b's clock (later than a's edit, earlier than
// the second write): the route from b must not carry that older value
// into c over a's edit.
func TestAnEarlierWriteReadBeforeTheLatestIsNoChange(t *testing.T) {
	bus, state := testenv.Bus(t), testenv.State(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	create := leadEvent(t, "a", t0.Add(100*time.Millisecond), map[string]string{"key": "k", "city": "Austin"})
	edit := leadEvent(t, "a", t0.Add(500*time.Millisecond), map[string]string{"key": "k", "city": "Boston"})

	loseWrite(t, bus, state, create)
	toC := &memorySink{}
	if _, err := newRunner(t, copyRoute("a", "c", toC), bus, state).Apply(ctx, []pipeline.Event{create, edit}); err != nil {
		t.Fatal(err)
	}
	bc := runRoute(t, copyRoute("b", "c", toC), bus, state)
	toB := &hookSink{during: func() {
		// b's report of the first write, read before this one was sent.
		publishLead(t, bus, "b", "1", t0.Add(2*time.Second), map[string]string{"key": "k", "city": "Austin"})
		testenv.Eventually(t, "b-c to settle b's report", func() bool { return bc.Stats.Settled.Load() >= 1 })
	}}
	again := copyRoute("a", "b", toB)
	again.Reverse = true
	if _, err := newRunner(t, again, bus, state).Apply(ctx, []pipeline.Event{create, edit}); err != nil {
		t.Fatal(err)
	}
	if toB.count() != 1 || toB.writes[0]["city"] != "Boston" {
		t.Fatalf("writes into b: %v", toB.writes)
	}
	if toC.count() != 1 {
		t.Fatalf("b's report of crmsync's earlier write overwrote a's newer edit in c: writes %v", toC.writes)
	}
}

// TestAFieldOnlyEverReportedEmptyIsNoClearForAnotherRoute: b reports a
// lead whose color it never held, in its own form of "no value"; the route
// from b into d settles that report first, then the route into c reads
// it. Neither takes it for a clear. a's color, written into b later but
// changed at a before b's report, then reaches c.
func TestAFieldOnlyEverReportedEmptyIsNoClearForAnotherRoute(t *testing.T) {
	bus, state := testenv.Bus(t), testenv.State(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	toC, toD := &memorySink{}, &memorySink{}
	bd := runRoute(t, copyRoute("b", "d", toD), bus, state)
	publishLead(t, bus, "b", "1", t0.Add(5*time.Second), map[string]string{"key": "k", "city": "Austin", "color": ""})
	testenv.Eventually(t, "b-d to settle b's report", func() bool { return bd.Stats.Settled.Load() >= 1 })
	bc := runRoute(t, copyRoute("b", "c", toC), bus, state)
	testenv.Eventually(t, "b-c to settle b's report", func() bool { return bc.Stats.Settled.Load() >= 1 })
	for sink, writes := range map[string][]map[string]string{"c": toC.writes, "d": toD.writes} {
		for _, w := range writes {
			if _, ok := w["color"]; ok {
				t.Fatalf("a color b never held was written into %s as a clear: %v", sink, w)
			}
		}
	}
	// a's color, changed at t0+1s, is written into b; b reports it.
	ab := copyRoute("a", "b", &memorySink{})
	ab.Reverse = true
	edit := leadEvent(t, "a", t0.Add(time.Second+300*time.Millisecond), map[string]string{"key": "k", "city": "Austin", "color": "crimson"})
	if _, err := newRunner(t, ab, bus, state).Apply(ctx, []pipeline.Event{edit}); err != nil {
		t.Fatal(err)
	}
	publishLead(t, bus, "b", "1", t0.Add(8*time.Second), map[string]string{"key": "k", "city": "Austin", "color": "crimson"})
	testenv.Eventually(t, "b-c to settle b's second report", func() bool { return bc.Stats.Settled.Load() >= 2 })
	toC.mu.Lock()
	defer toC.mu.Unlock()
	if n := len(toC.writes); n == 0 || toC.writes[n-1]["color"] != "crimson" {
		t.Fatalf("a's color did not reach c: writes %v", toC.writes)
	}
}

// TestAClearAfterTheWriteWasSeenInTheSameBatchIsAChange: crmsync writes
// a's street into b, and the write's answer is slow. b's poller reports the
// lead twice while the write is on its way, and the route from b gets both
// reports in one batch: first the street crmsync wrote (it landed), then
// the street cleared by a user there. The clear is a change made at b
// after the write landed, not a read from before it, and reaches a.
func TestAClearAfterTheWriteWasSeenInTheSameBatchIsAChange(t *testing.T) {
	bus, state := testenv.Bus(t), testenv.State(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	made := leadEvent(t, "a", t0.Add(100*time.Millisecond), map[string]string{"key": "k", "city": "Austin", "street": ""})
	ab := copyRoute("a", "b", &memorySink{})
	ab.Reverse = true
	if _, err := newRunner(t, ab, bus, state).Apply(ctx, []pipeline.Event{made}); err != nil {
		t.Fatal(err)
	}
	edit := leadEvent(t, "a", t0.Add(time.Second), map[string]string{"key": "k", "city": "Austin", "street": "Elm St"})
	// a's other route settles the edit first: a is known to hold it.
	if _, err := newRunner(t, copyRoute("a", "c", &memorySink{}), bus, state).Apply(ctx, []pipeline.Event{edit}); err != nil {
		t.Fatal(err)
	}
	toA := &memorySink{}
	toB := &hookSink{during: func() {
		// Both reports are on the bus before the route from b starts: it
		// takes them in one batch.
		publishLead(t, bus, "b", "1", t0.Add(2*time.Second), map[string]string{"key": "k", "city": "Austin", "street": "Elm St"})
		publishLead(t, bus, "b", "1", t0.Add(3*time.Second), map[string]string{"key": "k", "city": "Austin", "street": ""})
		ba := copyRoute("b", "a", toA)
		ba.Reverse = true
		baRunner := runRoute(t, ba, bus, state)
		testenv.Eventually(t, "b-a to settle b's reports", func() bool { return baRunner.Stats.Settled.Load() >= 2 })
	}}
	again := copyRoute("a", "b", toB)
	again.Reverse = true
	if _, err := newRunner(t, again, bus, state).Apply(ctx, []pipeline.Event{edit}); err != nil {
		t.Fatal(err)
	}
	if toA.count() != 1 || toA.writes[0]["street"] != "" {
		t.Fatalf("the user's clear in b, reported after b was seen holding crmsync's write, did not reach a: writes %v", toA.writes)
	}
}

// oneFailsOnce writes every record but bad (a canonical key), whose first
// write fails transiently; it notes when it answered the others.
type oneFailsOnce struct {
	memorySink
	bad      string
	failed   bool
	answered time.Time
}

func (s *oneFailsOnce) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	out := s.memorySink.Write(ctx, recs)
	for i, r := range recs {
		if r.Key == s.bad && !s.failed {
			s.failed = true
			out[i] = pipeline.Outcome{Err: errors.New("HTTP 503")}
		}
	}
	if s.answered.IsZero() {
		s.answered = time.Now()
	}
	return out
}

// TestAnEditAfterTheWriteWasAnsweredIsAChangeWhileTheBatchRetries: a
// batch writes two leads into b; the first is answered at once, the
// second is retried. A user at b sets the first lead's city back to its
// old value after that answer and before the batch settles. The report is
// a change made at b after the write landed, not a read from before it.
func TestAnEditAfterTheWriteWasAnsweredIsAChangeWhileTheBatchRetries(t *testing.T) {
	bus, state := testenv.Bus(t), testenv.State(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	lead := func(id, key, city string, at time.Time) pipeline.Event {
		e := pipeline.Event{Vendor: "a", Entity: "lead", ExternalID: id, ChangedAt: at,
			Fields: map[string]string{"key": key, "city": city}}
		e.Version = at.String()
		if err := e.Seal(); err != nil {
			t.Fatal(err)
		}
		return e
	}
	ab := copyRoute("a", "b", &memorySink{})
	ab.Reverse = true
	if _, err := newRunner(t, ab, bus, state).Apply(ctx, []pipeline.Event{lead("1", "k1", "Austin", t0), lead("2", "k2", "Austin", t0)}); err != nil {
		t.Fatal(err)
	}
	toB := &oneFailsOnce{bad: pipeline.CanonicalID(pipeline.Key{Vendor: "a", Entity: "lead", Kind: pipeline.KindID, Value: "2"})}
	again := copyRoute("a", "b", toB)
	again.Reverse = true
	again.NewBackOff = func() backoff.BackOff { return backoff.NewConstantBackOff(300 * time.Millisecond) }
	abRunner := runRoute(t, again, bus, state)
	publishLead(t, bus, "a", "1", t0.Add(time.Second), map[string]string{"key": "k1", "city": "Boston"})
	publishLead(t, bus, "a", "2", t0.Add(time.Second), map[string]string{"key": "k2", "city": "Boston"})
	testenv.Eventually(t, "a-b to settle both leads", func() bool { return abRunner.Stats.Settled.Load() >= 2 })
	if toB.count() != 3 {
		t.Fatalf("writes into b: %v; want both leads, then the failed one again", toB.writes)
	}
	// b's report of the user's edit of k1, made while k2 was retried.
	toA := &memorySink{}
	ba := copyRoute("b", "a", toA)
	ba.Reverse = true
	baRunner := runRoute(t, ba, bus, state)
	publishLead(t, bus, "b", "1", toB.answered.Add(100*time.Millisecond), map[string]string{"key": "k1", "city": "Austin"})
	testenv.Eventually(t, "b-a to settle b's report", func() bool { return baRunner.Stats.Settled.Load() >= 1 })
	if toA.count() != 1 || toA.writes[0]["city"] != "Austin" {
		t.Fatalf("the user's edit in b, made after crmsync's write was answered, did not reach a: writes %v", toA.writes)
	}
}

// TestARecordWrittenIsInTheLedgerWhileItsBatchRetries: of a batch of two
// leads, the first is written at once and the second is retried. While
// the retry waits, the ledger already shows the first written, so that
// another route carrying the same change does not write it again.
func TestARecordWrittenIsInTheLedgerWhileItsBatchRetries(t *testing.T) {
	bus, state := testenv.Bus(t), testenv.State(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	k1 := pipeline.CanonicalID(pipeline.Key{Vendor: "a", Entity: "lead", Kind: pipeline.KindID, Value: "1"})
	k2 := pipeline.CanonicalID(pipeline.Key{Vendor: "a", Entity: "lead", Kind: pipeline.KindID, Value: "2"})
	var during pipeline.LedgerEntry
	toB := &retryHook{oneFailsOnce: oneFailsOnce{bad: k2}, onRetry: func() {
		l, err := state.Ledger(ctx, "b", "lead", []string{k1})
		if err != nil {
			t.Error(err)
		}
		during = l[k1]
	}}
	ab := copyRoute("a", "b", toB)
	ab.NewBackOff = func() backoff.BackOff { return &backoff.ZeroBackOff{} }
	lead := func(id, key string) pipeline.Event {
		e := pipeline.Event{Vendor: "a", Entity: "lead", ExternalID: id, ChangedAt: t0, Fields: map[string]string{"key": key, "city": "Austin"}}
		e.Version = t0.String()
		if err := e.Seal(); err != nil {
			t.Fatal(err)
		}
		return e
	}
	if _, err := newRunner(t, ab, bus, state).Apply(ctx, []pipeline.Event{lead("1", "k1"), lead("2", "k2")}); err != nil {
		t.Fatal(err)
	}
	if got := during.Fields["city"].Hash; got != pipeline.ValueHash("Austin") {
		t.Fatalf("while the batch was retried, the ledger showed the written lead's city as %q: %+v", got, during)
	}
}

// retryHook is oneFailsOnce that runs onRetry when a batch is sent again.
type retryHook struct {
	oneFailsOnce
	calls   int
	onRetry func()
}

func (s *retryHook) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	if s.calls++; s.calls > 1 {
		s.onRetry()
	}
	return s.oneFailsOnce.Write(ctx, recs)
}

// TestAClearAtATargetThatSkippedTheSameClearIsItsOwnChange: l's lead
// reaches s; a user clears its budget in s, and the route back into l
// marks the clear as sent, but l takes no update and skips it. A user at l
// then sets the budget (reaching s), and later clears it. That clear is
// l's own change, made now: not crmsync's skipped write reported back,
// dated from s's older clear, which s's newer budget would win over.
func TestAClearAtATargetThatSkippedTheSameClearIsItsOwnChange(t *testing.T) {
	bus, state := testenv.Bus(t), testenv.State(t)
	t0 := time.Now().Truncate(time.Second) // the stamps come after the writes' sent times, as they do live
	toS := &memorySink{}
	ls := copyRoute("l", "s", toS)
	ls.Reverse = true
	lsRunner := runRoute(t, ls, bus, state)
	sl := copyRoute("s", "l", &skipSink{}) // l takes no update, as LeadExec
	sl.Reverse = true
	slRunner := runRoute(t, sl, bus, state)
	step := func(what string, vendor string, at time.Time, budget string, ru *pipeline.Runner, settled int64) {
		t.Helper()
		publishLead(t, bus, vendor, "1", at, map[string]string{"key": "k", "budget": budget})
		testenv.Eventually(t, what, func() bool { return ru.Stats.Settled.Load() >= settled })
	}
	step("l's new lead to reach s", "l", t0.Add(100*time.Millisecond), "125", lsRunner, 1)
	step("s's clear to be skipped by l", "s", t0.Add(2*time.Second), "", slRunner, 1)
	step("l's budget to reach s", "l", t0.Add(5*time.Second+300*time.Millisecond), "126", lsRunner, 2)
	step("l's clear to be handled", "l", t0.Add(9*time.Second+700*time.Millisecond), "", lsRunner, 3)
	n := toS.count()
	if n == 0 || toS.writes[n-1]["budget"] != "" {
		t.Fatalf("l's own clear did not reach s: writes into s %v", toS.writes)
	}
}
