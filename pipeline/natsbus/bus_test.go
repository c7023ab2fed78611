package natsbus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/bustest"
)

func openBus(t *testing.T, dir string) *Bus {
	t.Helper()
	b, err := Open(context.Background(), Config{StoreDir: dir, AckWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fetchWait is how long a test waits for the messages it fetches.
const fetchWait = 10 * time.Second

func event(t *testing.T, id string, fields map[string]string) pipeline.Event {
	t.Helper()
	return sealed(t, pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: id, Fields: fields, ChangedAt: time.Now().UTC()})
}

// sealed is ev with its id.
func sealed(t *testing.T, ev pipeline.Event) pipeline.Event {
	t.Helper()
	if err := ev.Seal(); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestPublishDropsDuplicateIDs(t *testing.T) {
	ctx := context.Background()
	b := openBus(t, t.TempDir())
	defer b.Close()
	ev := event(t, "1", map[string]string{"Email": "a@example.com"})
	for i := 0; i < 3; i++ {
		if err := b.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Publish(ctx, event(t, "2", map[string]string{"Email": "b@example.com"})); err != nil {
		t.Fatal(err)
	}
	c, err := b.Consumer(ctx, "r", pipeline.Subject("lead", "leadexec"))
	if err != nil {
		t.Fatal(err)
	}
	got := bustest.Fetch(t, c, 2, fetchWait)
	if len(got) != 2 || got[0].Event.ExternalID != "1" || got[1].Event.ExternalID != "2" {
		t.Fatalf("got %d messages", len(got))
	}
	for _, m := range got {
		m.Ack()
	}
	// Nothing else is pending: the two duplicate publishes were dropped.
	ms, _ := c.Fetch(ctx, 10, 300*time.Millisecond)
	if len(ms) != 0 {
		t.Fatalf("%d extra messages after the duplicates", len(ms))
	}
	if n, err := b.Backlog(ctx, "r"); err != nil || n != 0 {
		t.Fatalf("backlog = %d, %v", n, err)
	}
}

func TestUnackedMessagesAreRedeliveredAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openBus(t, dir)
	for i := 0; i < 5; i++ {
		if err := b.Publish(ctx, event(t, fmt.Sprint(i), map[string]string{"n": fmt.Sprint(i)})); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := b.Consumer(ctx, "r", pipeline.Subject("lead", "leadexec"))
	got := bustest.Fetch(t, c, 5, fetchWait)
	for _, m := range got[:2] {
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	// A crash: three messages were never acknowledged.
	b.Close()

	b = openBus(t, dir)
	defer b.Close()
	c, _ = b.Consumer(ctx, "r", pipeline.Subject("lead", "leadexec"))
	// Redelivery order after a restart is not promised; the set is. An
	// acknowledgement does not wait for the server, so the first two may
	// come again too.
	seen := map[string]bool{}
	for !(seen["2"] && seen["3"] && seen["4"]) {
		again := bustest.Fetch(t, c, 1, fetchWait)
		if len(again) == 0 {
			break
		}
		for i, m := range again {
			seen[m.Event.ExternalID] = true
			if m.Delivered < 2 {
				t.Errorf("redelivered[%d] has delivery count %d", i, m.Delivered)
			}
			m.Ack()
		}
	}
	for _, want := range []string{"2", "3", "4"} {
		if !seen[want] {
			t.Errorf("event %s was not redelivered (got %v)", want, seen)
		}
	}
}

func TestConsumersOfRoutesAreIndependent(t *testing.T) {
	ctx := context.Background()
	b := openBus(t, t.TempDir())
	defer b.Close()
	if err := b.Publish(ctx, event(t, "1", nil)); err != nil {
		t.Fatal(err)
	}
	c1, _ := b.Consumer(ctx, "route-a", pipeline.Subject("lead", "leadexec"))
	c2, _ := b.Consumer(ctx, "route.b", pipeline.Subject("lead", "leadexec"))
	for _, c := range []pipeline.Consumer{c1, c2} {
		got := bustest.Fetch(t, c, 1, fetchWait)
		if len(got) != 1 {
			t.Fatal("a route did not get the event")
		}
		got[0].Ack()
	}
}
