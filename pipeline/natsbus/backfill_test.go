package natsbus

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/bustest"
)

func backfillEvent(t *testing.T, id string) pipeline.Event {
	t.Helper()
	return sealed(t, pipeline.Event{Vendor: "ivvy", Entity: "lead", ExternalID: id, Fields: map[string]string{"email": id + "@example.com"},
		ChangedAt: time.Now().UTC(), Origin: pipeline.OriginBackfill})
}

// Backfill events are kept in a stream of their own with a short duplicate
// window; live events in the change-event stream with the configured one.
// A route's backfill consumer reads the former, its live consumer the
// latter, and its backlog is found on either.
func TestBackfillEventsHaveAStreamOfTheirOwn(t *testing.T) {
	ctx := context.Background()
	b := openBus(t, t.TempDir())
	defer b.Close()
	if b.SharedBackfill() {
		t.Fatal("a new bus shares the change-event stream with backfill events")
	}
	if err := b.PublishBatch(ctx, []pipeline.Event{backfillEvent(t, "1"), backfillEvent(t, "2"), backfillEvent(t, "1")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, event(t, "9", map[string]string{"Email": "live@example.com"})); err != nil {
		t.Fatal(err)
	}
	live, err := b.js.Stream(ctx, "CRM")
	if err != nil {
		t.Fatal(err)
	}
	bf, err := b.js.Stream(ctx, "CRM_BACKFILL")
	if err != nil {
		t.Fatal(err)
	}
	li, bi := live.CachedInfo(), bf.CachedInfo()
	if li.State.Msgs != 1 || bi.State.Msgs != 2 {
		t.Fatalf("live stream holds %d events, backfill stream %d; want 1 and 2 (the repeated id dropped)", li.State.Msgs, bi.State.Msgs)
	}
	if li.Config.Duplicates != time.Hour || bi.Config.Duplicates != 10*time.Second {
		t.Fatalf("duplicate windows: live %s, backfill %s", li.Config.Duplicates, bi.Config.Duplicates)
	}
	c, err := b.Consumer(ctx, pipeline.BackfillConsumer("r"), pipeline.BackfillSubject("lead", "ivvy"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.Backlog(ctx, pipeline.BackfillConsumer("r")); err != nil || n != 2 {
		t.Fatalf("backfill backlog = %d, %v; want 2", n, err)
	}
	got := bustest.Fetch(t, c, 2, fetchWait)
	if len(got) != 2 || got[0].Event.ExternalID != "1" || got[1].Event.ExternalID != "2" {
		t.Fatalf("backfill consumer got %d events", len(got))
	}
	lc, err := b.Consumer(ctx, "r", pipeline.Subject("lead", "leadexec"))
	if err != nil {
		t.Fatal(err)
	}
	if got := bustest.Fetch(t, lc, 1, fetchWait); len(got) != 1 || got[0].Event.ExternalID != "9" {
		t.Fatalf("live consumer got %v", got)
	}
}

// A change-event stream made before backfill events had a stream of their
// own keeps taking them while a route has some left to take there; the
// first start after they are taken moves backfill to its own stream and
// removes the drained consumer.
func TestSharedBackfillStreamMovesOnceDrained(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// The stream as earlier versions made it, with a backfill event a route
	// has not taken.
	b := openBus(t, dir)
	for _, name := range []string{"CRM", "CRM_BACKFILL"} {
		if err := b.js.DeleteStream(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	old, err := b.js.CreateStream(ctx, jetstream.StreamConfig{Name: "CRM", Subjects: []string{sharedSubjects},
		Storage: jetstream.FileStorage, Duplicates: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b.stream, b.backfill, b.shared = old, old, true
	if _, err := b.Consumer(ctx, pipeline.BackfillConsumer("r"), pipeline.BackfillSubject("lead", "ivvy")); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, backfillEvent(t, "1")); err != nil {
		t.Fatal(err)
	}
	b.Close()

	b = openBus(t, dir)
	if !b.SharedBackfill() {
		t.Fatal("a backfill event left in the shared stream, and the bus moved backfill to its own stream")
	}
	if err := b.Publish(ctx, backfillEvent(t, "2")); err != nil {
		t.Fatal(err)
	}
	c, err := b.Consumer(ctx, pipeline.BackfillConsumer("r"), pipeline.BackfillSubject("lead", "ivvy"))
	if err != nil {
		t.Fatal(err)
	}
	got := bustest.Fetch(t, c, 2, fetchWait)
	if len(got) != 2 {
		t.Fatalf("the backfill consumer took %d of the 2 events in the shared stream", len(got))
	}
	for _, m := range got {
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	// Acks are settled asynchronously; the backlog shows when they are.
	deadline := time.Now().Add(10 * time.Second)
	for n, _ := b.Backlog(ctx, pipeline.BackfillConsumer("r")); n > 0; n, _ = b.Backlog(ctx, pipeline.BackfillConsumer("r")) {
		if time.Now().After(deadline) {
			t.Fatalf("backlog still %d", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Close()

	b = openBus(t, dir)
	defer b.Close()
	if b.SharedBackfill() {
		t.Fatal("the drained shared stream still takes backfill events")
	}
	info, err := b.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Config.Subjects) != 1 || info.Config.Subjects[0] != liveSubjects {
		t.Fatalf("change-event stream subjects %v", info.Config.Subjects)
	}
	if _, err := b.stream.Consumer(ctx, durableName(pipeline.BackfillConsumer("r"))); err == nil {
		t.Fatal("the drained backfill consumer is still on the change-event stream")
	}
	if err := b.Publish(ctx, backfillEvent(t, "3")); err != nil {
		t.Fatal(err)
	}
	c, err = b.Consumer(ctx, pipeline.BackfillConsumer("r"), pipeline.BackfillSubject("lead", "ivvy"))
	if err != nil {
		t.Fatal(err)
	}
	if got := bustest.Fetch(t, c, 1, fetchWait); len(got) != 1 || got[0].Event.ExternalID != "3" {
		t.Fatalf("after the move the backfill consumer got %v", got)
	}
}
