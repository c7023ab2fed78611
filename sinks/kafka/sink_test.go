package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/kafkabus"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newSink(t *testing.T, brokers []string) *Sink {
	t.Helper()
	s, err := New(Config{Brokers: brokers, Topic: "warehouse.leads", MaxMessageBytes: 10_000, WriteTimeout: 2 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateTopic(context.Background(), 2, 1); err != nil {
		t.Fatal(err)
	}
	return s
}

func record(key string, fields map[string]string) *pipeline.Record {
	stamps := map[string]time.Time{}
	for f := range fields {
		stamps[f] = now.Add(-time.Hour)
	}
	return &pipeline.Record{Key: key, Fields: fields, Stamps: stamps, EventIDs: []string{"ev-" + key}}
}

// readAll reads n messages of the topic, across partitions.
func readAll(t *testing.T, brokers []string, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "check", Topic: "warehouse.leads", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d of %d: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func TestWritePublishesOneChangePerRecord(t *testing.T) {
	brokers, stop, err := kafkabus.StartFake()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	s := newSink(t, brokers)
	recs := []*pipeline.Record{
		record("lead-1", map[string]string{"email": "a@example.com", "company": "Acme"}),
		record("lead-2", map[string]string{"phone": ""}), // cleared
		record("lead-3", map[string]string{"description": strings.Repeat("x", 20_000)}),
	}
	out := s.Write(context.Background(), recs)
	if len(out) != 3 {
		t.Fatalf("%d outcomes", len(out))
	}
	for i, want := range []bool{false, false, true} {
		if got := errors.Is(out[i].Err, pipeline.ErrPermanent); got != want || (!want && out[i].Err != nil) {
			t.Errorf("outcome %d = %v, want permanent=%v", i, out[i].Err, want)
		}
	}
	msgs := readAll(t, brokers, 2)
	byKey := map[string]Change{}
	for _, m := range msgs {
		var ch Change
		if err := json.Unmarshal(m.Value, &ch); err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != ch.Key {
			t.Errorf("message key %q, change key %q", m.Key, ch.Key)
		}
		byKey[ch.Key] = ch
	}
	c1 := byKey["lead-1"]
	if c1.Schema != Schema || c1.Entity != "lead" || c1.Fields["company"] != "Acme" || !c1.PublishedAt.Equal(now) ||
		!c1.ChangedAt["email"].Equal(now.Add(-time.Hour)) || len(c1.EventIDs) != 1 {
		t.Errorf("lead-1 change = %+v", c1)
	}
	if v, ok := byKey["lead-2"].Fields["phone"]; !ok || v != "" {
		t.Errorf("a cleared field must travel as \"\": %+v", byKey["lead-2"])
	}
	if c1.ChangeID != changeID(recs[0]) || c1.ChangeID == byKey["lead-2"].ChangeID {
		t.Errorf("change ids %q %q", c1.ChangeID, byKey["lead-2"].ChangeID)
	}
}

func TestChangeIDIsDeterministic(t *testing.T) {
	a := record("k", map[string]string{"email": "a@example.com", "city": "Oslo"})
	b := record("k", map[string]string{"city": "Oslo", "email": "a@example.com"})
	c := record("k", map[string]string{"city": "Bergen", "email": "a@example.com"})
	if changeID(a) != changeID(b) {
		t.Error("same change, different ids")
	}
	if changeID(a) == changeID(c) {
		t.Error("different values, same id")
	}
	c.Fields["city"] = "Oslo"
	c.Stamps["city"] = now
	if changeID(a) == changeID(c) {
		t.Error("different change times, same id")
	}
}

func TestUnreachableClusterIsTransient(t *testing.T) {
	brokers, stop, err := kafkabus.StartFake()
	if err != nil {
		t.Fatal(err)
	}
	s := newSink(t, brokers)
	stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := s.Write(ctx, []*pipeline.Record{record("a", map[string]string{"email": "a@example.com"}), record("b", map[string]string{"email": "b@example.com"})})
	for i, o := range out {
		if o.Err == nil || errors.Is(o.Err, pipeline.ErrPermanent) {
			t.Errorf("outcome %d = %v, want a transient error", i, o.Err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no brokers", Config{Topic: "t"}},
		{"no topic", Config{Brokers: []string{"127.0.0.1:9092"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted an incomplete config")
			}
		})
	}
}
