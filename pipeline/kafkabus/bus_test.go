package kafkabus

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/bustest"
)

func TestPublishKeysAndHeaders(t *testing.T) {
	brokers := fakeCluster(t)
	b := openBus(t, Config{Brokers: brokers, Logger: quiet})
	defer b.Close()
	ev := bustest.Event(t, "42", 1)
	if err := b.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: "crm.lead.leadexec", MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Key) != "leadexec:42" {
		t.Errorf("key %q", m.Key)
	}
	want := map[string]string{HeaderEventID: ev.ID, HeaderVendor: "leadexec", HeaderEntity: "lead", HeaderOrigin: "live"}
	got := map[string]string{}
	for _, h := range m.Headers {
		got[h.Key] = string(h.Value)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
	dec, err := pipeline.UnmarshalEvent(m.Value)
	if err != nil || dec.ID != ev.ID {
		t.Errorf("value decodes to %+v, %v", dec, err)
	}
}

func TestPublishIsNotHeldByTheBatchTimeout(t *testing.T) {
	b := openBus(t, Config{Brokers: fakeCluster(t), Logger: quiet})
	defer b.Close()
	ctx := context.Background()
	if err := b.Publish(ctx, bustest.Event(t, "warm", 1)); err != nil { // creates the topic
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 20 {
		if err := b.Publish(ctx, bustest.Event(t, "x", i)); err != nil {
			t.Fatal(err)
		}
	}
	// kafka-go's default 1s BatchTimeout would take 20s here.
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("20 synchronous publishes took %v", d)
	}
}

func TestCloseClosesConsumers(t *testing.T) {
	b := openBus(t, Config{Brokers: fakeCluster(t), Logger: quiet})
	c, err := b.Consumer(context.Background(), "r", "crm.lead.leadexec")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(context.Background(), 1, 10*time.Millisecond); err != ErrClosed {
		t.Fatalf("fetch after close: %v", err)
	}
	if err := b.Publish(context.Background(), bustest.Event(t, "1", 1)); err != ErrClosed {
		t.Fatalf("publish after close: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Config{}); err == nil {
		t.Error("Open without brokers succeeded")
	}
	b := openBus(t, Config{Brokers: fakeCluster(t), Logger: quiet})
	defer b.Close()
	for _, filter := range []string{"", "crm.lead.*", "crm.>"} {
		if _, err := b.Consumer(ctx, "r", filter); err == nil {
			t.Errorf("filter %q accepted", filter)
		}
	}
	if _, err := b.Consumer(ctx, "", "crm.lead.leadexec"); err == nil {
		t.Error("empty route accepted")
	}
}

func TestSeqRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name      string
		partition int
		offset    int64
	}{
		{"origin", 0, 0},
		{"first partition", 0, 123456789},
		{"later partition", 7, 42},
		{"large offset", 3, 1<<48 - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, o := Position(Seq(tc.partition, tc.offset))
			if p != tc.partition || o != tc.offset {
				t.Fatalf("Position(Seq(%d, %d)) = %d, %d", tc.partition, tc.offset, p, o)
			}
		})
	}
	if Seq(1, 0) <= Seq(0, 1<<40) {
		t.Error("a later partition must sort after every offset of an earlier one")
	}
}

func TestIDWindow(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		max  int
		adds []string // one per second from t0
		at   time.Duration
		id   string
		want bool
	}{
		{"remembered", time.Minute, 10, []string{"a"}, time.Second, "a", true},
		{"unknown", time.Minute, 10, []string{"a"}, time.Second, "b", false},
		{"expired", time.Minute, 10, []string{"a"}, 2 * time.Minute, "a", false},
		{"oldest forgotten past max", time.Hour, 2, []string{"a", "b", "c"}, 3 * time.Second, "a", false},
		{"newest kept past max", time.Hour, 2, []string{"a", "b", "c"}, 3 * time.Second, "c", true},
		{"re-added lives on", time.Minute, 10, []string{"a", "x", "a"}, 61 * time.Second, "a", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newIDWindow(tc.ttl, tc.max)
			for i, id := range tc.adds {
				w.add(id, t0.Add(time.Duration(i)*time.Second))
			}
			if got := w.has(tc.id, t0.Add(tc.at)); got != tc.want {
				t.Fatalf("has(%s) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}
