package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/kafkabus"
	ksink "github.com/crmsync/crmsync/sinks/kafka"
)

// topicReader reads a topic from its start, across partitions.
type topicReader struct {
	t testing.TB
	r *kafka.Reader
}

func newTopicReader(t testing.TB, brokers []string, topic string) *topicReader {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "warehouse", Topic: topic,
		StartOffset: kafka.FirstOffset, MaxWait: 50 * time.Millisecond})
	t.Cleanup(func() { r.Close() })
	return &topicReader{t: t, r: r}
}

// next returns the next change, or fails after wait.
func (tr *topicReader) next(wait time.Duration) (ksink.Change, kafka.Message) {
	tr.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	m, err := tr.r.ReadMessage(ctx)
	if err != nil {
		tr.t.Fatalf("read the change stream: %v", err)
	}
	var ch ksink.Change
	if err := json.Unmarshal(m.Value, &ch); err != nil {
		tr.t.Fatalf("change %s is not JSON: %v", m.Value, err)
	}
	return ch, m
}

// none fails if a change arrives within wait.
func (tr *topicReader) none(wait time.Duration) {
	tr.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if m, err := tr.r.ReadMessage(ctx); err == nil {
		tr.t.Fatalf("unexpected change: %s", m.Value)
	}
}

func TestRouteToKafkaPublishesTheCanonicalChangeStream(t *testing.T) {
	t.Parallel()
	brokers, stop, err := kafkabus.StartFake()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	h := newHarness(t, harnessOptions{linger: 20 * time.Millisecond})
	h.app.Close()
	h.cfg.Kafka = &config.KafkaTargetConfig{Brokers: brokers, LeadTopic: "warehouse.leads"}
	h.cfg.Routes = []config.RouteConfig{{Name: "le-kafka", From: "leadexec.lead", To: "kafka.lead"}}
	validConfig(t, h.cfg)
	h.open()
	h.start()

	h.deliver(7, map[string]string{"Email": "Kim@Example.com", "FirstName": "Kim", "LastName": "Lee", "Budget": "900"})
	h.settle(1)
	tr := newTopicReader(t, brokers, "warehouse.leads")
	ch, m := tr.next(15 * time.Second)
	canonical, err := h.app.State.Lookup(context.Background(),
		pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: "7"})
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Key) != canonical || ch.Key != canonical {
		t.Errorf("message key %q, change key %q; want the canonical id %q", m.Key, ch.Key, canonical)
	}
	if ch.Schema != ksink.Schema || ch.Entity != "lead" {
		t.Errorf("schema %q, entity %q", ch.Schema, ch.Entity)
	}
	want := map[string]string{"email": "Kim@Example.com", "first_name": "Kim", "last_name": "Lee", "budget": "900"}
	for f, v := range want {
		if ch.Fields[f] != v {
			t.Errorf("field %s = %q, want %q (fields %v)", f, ch.Fields[f], v, ch.Fields)
		}
		if ch.ChangedAt[f].IsZero() {
			t.Errorf("field %s has no change time", f)
		}
	}
	for f := range ch.Fields {
		if strings.ContainsAny(f, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Errorf("vendor field name %q in the canonical stream", f)
		}
	}

	// The same delivery again publishes nothing; an edit publishes the
	// change under the same key.
	h.deliver(7, map[string]string{"Email": "Kim@Example.com", "FirstName": "Kim", "LastName": "Lee", "Budget": "900"})
	h.deliver(7, map[string]string{"Email": "Kim@Example.com", "FirstName": "Kim", "LastName": "Lee", "Budget": "1200"})
	h.settle(2)
	ch, m = tr.next(15 * time.Second)
	if string(m.Key) != canonical || ch.Fields["budget"] != "1200" {
		t.Errorf("edit published as key %q with fields %v", m.Key, ch.Fields)
	}
	if _, sent := ch.Fields["first_name"]; sent {
		t.Errorf("an unchanged field was published again: %v", ch.Fields)
	}
	tr.none(500 * time.Millisecond)
	if d := h.app.Runners[0].Stats.DeadLetters.Load(); d != 0 {
		t.Errorf("%d dead letters", d)
	}
}

func TestConfigRequiresTheKafkaSectionForAKafkaRoute(t *testing.T) {
	c := &config.Config{
		LeadExec: &config.LeadExecConfig{Webhook: config.WebhookConfig{BasicUser: "u", BasicPassword: "p"}},
		Routes:   []config.RouteConfig{{From: "leadexec.lead", To: "kafka.lead"}},
	}
	c.ApplyDefaults()
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "kafka: a route writes the Kafka change stream but the kafka section is missing") {
		t.Fatalf("err = %v", err)
	}
	c.Kafka = &config.KafkaTargetConfig{}
	c.Bus = config.BusConfig{Kind: "kafka", Kafka: config.KafkaConfig{Brokers: []string{"localhost:9092"}}}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("with bus.kind kafka the bus brokers are the default: %v", err)
	}
	if c.Kafka.LeadTopic != "crmsync.leads" || c.Kafka.Brokers[0] != "localhost:9092" {
		t.Errorf("defaults: %+v", c.Kafka)
	}
}
