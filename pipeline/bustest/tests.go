package bustest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

func testPublishConsume(t *testing.T, f Factory) {
	b := open(t, f.NewEnv(t))
	var evs []pipeline.Event
	for i := range 5 {
		evs = append(evs, Event(t, fmt.Sprint(i), 1))
	}
	other := Event(t, "x", 1)
	other.Vendor = "sharpspring"
	if err := other.Seal(); err != nil {
		t.Fatal(err)
	}
	publish(t, b, other)
	publish(t, b, evs...)
	c := consumer(t, b, "r")
	got := FetchN(t, c, 5)
	wantIDs(t, f, got, "0/1", "1/1", "2/1", "3/1", "4/1")
	byID := map[string]pipeline.Event{}
	for _, ev := range evs {
		byID[ev.ExternalID] = ev
	}
	for i, m := range got {
		ev := byID[m.Event.ExternalID]
		if m.Event.ID != ev.ID || !m.Event.ChangedAt.Equal(ev.ChangedAt) || m.Event.Fields["Email"] != ev.Fields["Email"] {
			t.Errorf("message %d = %+v, want %+v", i, m.Event, ev)
		}
		if m.Delivered != 1 {
			t.Errorf("message %d delivered %d times, want 1", i, m.Delivered)
		}
	}
	ackAll(t, got)
	// The other vendor's event is on another subject; nothing else is there.
	expectNone(t, c, 300*time.Millisecond)
}

// testPublishBatch publishes one batch larger than any internal window,
// with two versions of each record, a repeat inside the batch and a repeat
// of an event stored before: every distinct event arrives once, versions of
// a record in order.
func testPublishBatch(t *testing.T, f Factory) {
	b := open(t, f.NewEnv(t))
	bp, ok := b.(pipeline.BatchPublisher)
	if !ok {
		t.Skip("the bus publishes one event at a time")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bp.PublishBatch(ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	first := Event(t, "x", 1)
	publish(t, b, first)
	const records = 700
	var batch []pipeline.Event
	for v := 1; v <= 2; v++ {
		for i := range records {
			batch = append(batch, Event(t, fmt.Sprint("b", i), v))
		}
	}
	batch = append(batch, batch[0], first)
	if err := bp.PublishBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	c := consumer(t, b, "r")
	got := FetchN(t, c, 2*records+1)
	last := versionsInOrder(t, "", got)
	for _, m := range got {
		if want := m.Event.ExternalID + "@example.com"; m.Event.Fields["Email"] != want {
			t.Fatalf("record %s carries Email %q, want %q", m.Event.ExternalID, m.Event.Fields["Email"], want)
		}
	}
	if len(last) != records+1 {
		t.Fatalf("%d distinct records delivered, want %d", len(last), records+1)
	}
	ackAll(t, got)
	expectNone(t, c, 500*time.Millisecond)
}

func testDuplicatePublish(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	b := open(t, env)
	one, two := Event(t, "1", 1), Event(t, "2", 1)
	publish(t, b, one, one, one, two)
	c := consumer(t, b, "r")
	got := FetchN(t, c, 2)
	wantIDs(t, f, got, "1/1", "2/1")
	ackAll(t, got)
	expectNone(t, c, 300*time.Millisecond)
	_ = b.Close()

	// A repeat published by the next process.
	b = open(t, env)
	publish(t, b, one)
	c = consumer(t, b, "r")
	if f.Features.DurableDedup {
		// Only the lost acknowledgements of the first process may come
		// again, never a third copy of "1".
		if !f.Features.DurableAck {
			var ones int
			for _, m := range drain(t, c) {
				if m.Event.ExternalID == "1" {
					ones++
				}
			}
			if ones > 1 {
				t.Fatalf("the repeat published after a restart was delivered")
			}
			return
		}
		expectNone(t, c, 500*time.Millisecond)
		return
	}
	again := FetchN(t, c, 1)
	if again[0].Event.ID != one.ID {
		t.Fatalf("repeat carries id %s, want %s (the ledger drops repeats by id)", again[0].Event.ID, one.ID)
	}
	ackAll(t, again)
}

func testRedeliveryAfterRestart(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	b := open(t, env)
	for i := range 5 {
		publish(t, b, Event(t, fmt.Sprint(i), 1))
	}
	got := FetchN(t, consumer(t, b, "r"), 5)
	ackAll(t, got[:2])
	// The process goes away with three messages unacknowledged.
	_ = b.Close()

	b = open(t, env)
	c := consumer(t, b, "r")
	var again []*pipeline.Message
	if f.Features.DurableAck {
		// The first two delivered were acknowledged: per partition (or
		// stream) they are a prefix, so exactly the other three come again.
		again = FetchN(t, c, 3)
		wantIDs(t, f, again, ids(got[2:])...)
	} else {
		again = fetchAtLeast(t, c, 3)
		for _, w := range ids(got[2:]) {
			if !slices.Contains(ids(again), w) {
				t.Fatalf("after a restart %v came again, without unacknowledged %s", ids(again), w)
			}
		}
	}
	for _, m := range again {
		if f.Features.DeliveryCountSurvivesRestart && m.Delivered < 2 {
			t.Errorf("%s: delivery count %d after a redelivery", m.Event.ExternalID, m.Delivered)
		}
	}
	ackAll(t, again)
	expectNone(t, c, 300*time.Millisecond)
	_ = b.Close()

	// Everything was acknowledged: a third process gets nothing.
	if f.Features.DurableAck {
		b = open(t, env)
		expectNone(t, consumer(t, b, "r"), 500*time.Millisecond)
	}
}

func testNak(t *testing.T, f Factory) {
	b := open(t, f.NewEnv(t))
	publish(t, b, Event(t, "0", 1), Event(t, "1", 1), Event(t, "2", 1))
	c := consumer(t, b, "r")
	got := FetchN(t, c, 3)
	if err := got[0].Ack(); err != nil {
		t.Fatal(err)
	}
	if err := got[1].Nak(0); err != nil {
		t.Fatal(err)
	}
	if err := got[2].Ack(); err != nil {
		t.Fatal(err)
	}
	nakked := got[1].Event.ExternalID + "/1"
	again := FetchN(t, c, 1)
	wantIDs(t, f, again, nakked)
	if again[0].Delivered != 2 {
		t.Errorf("delivery count %d, want 2", again[0].Delivered)
	}

	// A Nak with a delay is not redelivered at once.
	if err := again[0].Nak(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	expectNone(t, c, 100*time.Millisecond)
	third := FetchN(t, c, 1)
	if waited := time.Since(start); waited < 1500*time.Millisecond {
		t.Errorf("redelivered after %v, want the 2s delay", waited)
	}
	wantIDs(t, f, third, nakked)
	ackAll(t, third)
	expectNone(t, c, 300*time.Millisecond)
}

func testOrderPerKey(t *testing.T, f Factory) {
	b := open(t, f.NewEnv(t))
	keys := []string{"a", "b", "c", "d"}
	const versions = 15
	for v := 1; v <= versions; v++ {
		for _, k := range keys {
			publish(t, b, Event(t, k, v))
		}
	}
	c := consumer(t, b, "r")
	got := FetchN(t, c, len(keys)*versions)
	versionsInOrder(t, "", got)
	// A failed batch is redelivered in order too.
	for _, m := range got {
		if err := m.Nak(0); err != nil {
			t.Fatal(err)
		}
	}
	again := FetchN(t, c, len(keys)*versions)
	versionsInOrder(t, "after nak, ", again)
	ackAll(t, again)
}

func testIndependentRoutes(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	b := open(t, env)
	publish(t, b, Event(t, "1", 1), Event(t, "2", 1))
	ca, cb := consumer(t, b, "route-a"), consumer(t, b, "route.b")
	ga := FetchN(t, ca, 2)
	gb := FetchN(t, cb, 2)
	wantIDs(t, f, ga, "1/1", "2/1")
	wantIDs(t, f, gb, "1/1", "2/1")
	// Route a is done; route b fails its batch.
	ackAll(t, ga)
	for _, m := range gb {
		if err := m.Nak(0); err != nil {
			t.Fatal(err)
		}
	}
	expectNone(t, ca, 300*time.Millisecond)
	gb = FetchN(t, cb, 2)
	wantIDs(t, f, gb, "1/1", "2/1")
	_ = b.Close()

	// After a restart route b still has both; route a has none.
	b = open(t, env)
	if f.Features.DurableAck {
		expectNone(t, consumer(t, b, "route-a"), 500*time.Millisecond)
	}
	cb = consumer(t, b, "route.b")
	gb = FetchN(t, cb, 2)
	wantIDs(t, f, gb, "1/1", "2/1")
	ackAll(t, gb)
}

func replayer(t *testing.T, f Factory, b Bus) Replayer {
	t.Helper()
	if !f.Features.Replay {
		t.Skip("bus does not replay")
	}
	r, ok := b.(Replayer)
	if !ok {
		t.Fatalf("%T claims Replay but is no Replayer", b)
	}
	return r
}

func testReplayFrom(t *testing.T, f Factory) {
	b := open(t, f.NewEnv(t))
	r := replayer(t, f, b)
	keys := []string{"a", "b", "c"}
	for v := 1; v <= 4; v++ {
		for _, k := range keys {
			publish(t, b, Event(t, k, v))
		}
	}
	c := consumer(t, b, "r")
	got := FetchN(t, c, 12)
	ackAll(t, got)
	// Replay from the position of b's third version.
	var from *pipeline.Message
	for _, m := range got {
		if m.Event.ExternalID == "b" && m.Event.Version == "3" {
			from = m
		}
	}
	rc, err := r.ReplayFrom(context.Background(), subject, from.Seq)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConsumer(rc)
	// Every event stored at or after the position, in stored order.
	var want []string
	for _, m := range got {
		if m.Seq >= from.Seq && samePartition(f, m, from) {
			want = append(want, m.Event.ExternalID+"/"+m.Event.Version)
		}
	}
	n := len(want)
	if !f.Features.ExactReplayFrom {
		n = 0 // at least want; count below
	}
	replayed := fetchAtLeast(t, rc, max(n, len(want)))
	gotIDs := ids(replayed)
	for _, w := range want {
		if !slices.Contains(gotIDs, w) {
			t.Fatalf("replay from %s lacks %s: %v", "b/3", w, gotIDs)
		}
	}
	if f.Features.ExactReplayFrom && len(gotIDs) != len(want) {
		t.Fatalf("replayed %v, want %v", gotIDs, want)
	}
	for _, m := range replayed {
		if m.Event.ExternalID == "b" && m.Event.Version < "3" {
			t.Fatalf("replay from b/3 delivered %s/%s", m.Event.ExternalID, m.Event.Version)
		}
	}
	// A replayed message that is nakked comes again; the route is untouched.
	if err := replayed[0].Nak(0); err != nil {
		t.Fatal(err)
	}
	ackAll(t, replayed[1:])
	again := FetchN(t, rc, 1)
	wantIDs(t, f, again, gotIDs[0])
	ackAll(t, again)
	expectNone(t, c, 300*time.Millisecond)
}

// samePartition reports whether two messages share an ordering domain:
// always on an exact replay, else when they belong to one record.
func samePartition(f Factory, a, b *pipeline.Message) bool {
	return f.Features.ExactReplayFrom || a.Event.ExternalID == b.Event.ExternalID
}

// fetchAtLeast fetches at least n messages and whatever else arrives
// until the bus is quiet for 500ms.
func fetchAtLeast(t *testing.T, c pipeline.Consumer, n int) []*pipeline.Message {
	t.Helper()
	return append(FetchN(t, c, n), fetchUntilQuiet(t, c, nil)...)
}

// fetchUntilQuiet fetches whatever c delivers until it is quiet for 500ms,
// handing each batch to each (when not nil) as it arrives.
func fetchUntilQuiet(t *testing.T, c pipeline.Consumer, each func(ms []*pipeline.Message)) []*pipeline.Message {
	t.Helper()
	var got []*pipeline.Message
	for {
		ms, err := c.Fetch(context.Background(), 100, 500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			return got
		}
		if each != nil {
			each(ms)
		}
		got = append(got, ms...)
	}
}

func testReplaySince(t *testing.T, f Factory) {
	b := open(t, f.NewEnv(t))
	r := replayer(t, f, b)
	publish(t, b, Event(t, "old1", 1), Event(t, "old2", 1))
	// Buses stamp stored messages in milliseconds (Kafka): let the clock
	// pass a millisecond on either side of since.
	since := tick()
	publish(t, b, Event(t, "new1", 1), Event(t, "new2", 1))
	rc, err := r.ReplaySince(context.Background(), subject, since)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConsumer(rc)
	got := fetchAtLeast(t, rc, 2)
	wantIDs(t, f, got, "new1/1", "new2/1")
	ackAll(t, got)
}

// tick returns a time strictly between the stamps of messages stored
// before and after the call, at millisecond resolution.
func tick() time.Time {
	t0 := time.Now()
	for time.Since(t0) < 2*time.Millisecond {
	}
	t := time.Now().Truncate(time.Millisecond)
	for time.Since(t) < 2*time.Millisecond {
	}
	return t
}

func testDeadLetters(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	if env.PublishRaw == nil {
		t.Skip("no raw publishing for this bus")
	}
	b := open(t, env)
	c := consumer(t, b, "r") // creates the stream consumer or topic
	poison := []byte(`{"not":"an event"`)
	env.PublishRaw(t, b, subject, poison)
	publish(t, b, Event(t, "good", 1))
	got := FetchN(t, c, 1)
	wantIDs(t, f, got, "good/1")
	ackAll(t, got)
	expectNone(t, c, 300*time.Millisecond)
	if env.DeadLetters != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for {
			dl := env.DeadLetters(t, b)
			if slices.ContainsFunc(dl, func(p []byte) bool { return string(p) == string(poison) }) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("poison message not among the dead letters (%d)", len(dl))
			}
			// Keep consuming: a bus dead-letters a message when it reads
			// it, and the poison may sit in a partition not read yet.
			more, _ := c.Fetch(ctx, 10, 100*time.Millisecond)
			ackAll(t, more)
		}
	}
	_ = b.Close()
	// The poison message is settled: the next process never sees it.
	b = open(t, env)
	for _, m := range drain(t, consumer(t, b, "r")) {
		if m.Event.ExternalID != "good" || f.Features.DurableAck {
			t.Fatalf("after a restart %s came again", m.Event.ExternalID)
		}
	}
}

// drain acknowledges whatever c delivers until it is quiet for 500ms.
func drain(t *testing.T, c pipeline.Consumer) []*pipeline.Message {
	t.Helper()
	return fetchUntilQuiet(t, c, func(ms []*pipeline.Message) { ackAll(t, ms) })
}

func testBacklogAndLag(t *testing.T, f Factory) {
	if !f.Features.Backlog {
		t.Skip("the bus reports no backlog")
	}
	b := open(t, f.NewEnv(t))
	o, ok := b.(Observer)
	if !ok {
		t.Fatalf("%T does not implement Observer", b)
	}
	c := consumer(t, b, "r")
	other := consumer(t, b, "other")
	waitBacklog(t, o, "r", 0)
	if lag := lagOf(t, o, "r"); lag != 0 {
		t.Fatalf("lag %v of an empty route, want 0", lag)
	}

	start := time.Now()
	for i := range 6 {
		publish(t, b, Event(t, fmt.Sprint(i), 1))
	}
	waitBacklog(t, o, "r", 6)
	checkLag(t, o, "r", start)

	got := FetchN(t, c, 6)
	ackAll(t, got[:2])
	// A Kafka-style consumer commits what was acknowledged at its next
	// Fetch; nothing else is due, so this one delivers nothing.
	expectNone(t, c, 50*time.Millisecond)
	waitBacklog(t, o, "r", 4)
	checkLag(t, o, "r", start)
	// Each route has its own backlog.
	waitBacklog(t, o, "other", 6)

	ackAll(t, got[2:])
	expectNone(t, c, 50*time.Millisecond)
	waitBacklog(t, o, "r", 0)
	if lag := lagOf(t, o, "r"); lag != 0 {
		t.Fatalf("lag %v with nothing pending, want 0", lag)
	}
	closeConsumer(other)
}

// waitBacklog polls until the route's backlog is want; it fails the test
// after 20s.
func waitBacklog(t *testing.T, o Observer, route string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := o.Backlog(context.Background(), route)
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog of %s = %d (%v), want %d", route, n, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lagOf(t *testing.T, o Observer, route string) time.Duration {
	t.Helper()
	lag, err := o.Lag(context.Background(), route)
	if err != nil {
		t.Fatal(err)
	}
	return lag
}

// checkLag requires a lag that is positive and no older than start (the
// time before the oldest pending event was published), give or take the
// precision of stored timestamps.
func checkLag(t *testing.T, o Observer, route string, start time.Time) {
	t.Helper()
	lag := lagOf(t, o, route)
	if lag <= 0 || lag > time.Since(start)+10*time.Millisecond {
		t.Fatalf("lag %v, want in (0, %v]", lag, time.Since(start))
	}
}
