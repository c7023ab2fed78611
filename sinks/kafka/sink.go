// Package kafka is a crmsync sink that publishes canonical lead and client
// changes to one Kafka topic, for teams that feed a warehouse (or any other
// Kafka consumer) from crmsync.
//
// Each record a route writes becomes one Kafka message:
//
//   - key: the canonical record id (Record.Key), so every change of a
//     record lands in one partition, in order;
//   - value: a JSON Change (schema "crmsync.change.v1"): the entity, the
//     changed fields under their canonical names, each field's source
//     change time, the ids of the events merged into it, and a change id;
//   - headers: crmsync-record-key, crmsync-entity, crmsync-change-id.
//
// A route delivers at least once, so a change may be published again
// after a crash; its change_id is deterministic (record, field values and
// stamps), so the warehouse can drop repeats by it.
//
// Every Write is one synchronous produce of the whole batch, acknowledged
// by all in-sync replicas. The sink never retries: a record whose message
// is larger than MaxMessageBytes, or that the broker refuses as invalid,
// fails permanently (dead letter); any other failure is transient and the
// route retries it. The Sink is safe for concurrent use.
package kafka

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/crmsync/crmsync/pipeline"
)

// Schema names the format of Change; a new incompatible format gets a new
// name.
const Schema = "crmsync.change.v1"

// Config configures the sink. The zero value of each field except Brokers
// and Topic is its default.
type Config struct {
	// Brokers are the bootstrap addresses (host:port). Required.
	Brokers []string
	// Topic receives the changes. Required. It must exist, or the cluster
	// must create topics on first use.
	Topic string
	// Entity is written into every change: "lead" or "client"; default
	// "lead".
	Entity string
	// MaxMessageBytes is the largest message sent; default 1,000,000 (the
	// broker's default message.max.bytes). A larger record fails
	// permanently.
	MaxMessageBytes int
	// BatchTimeout bounds how long the writer waits for more messages of a
	// partition; default 1ms (a Write hands over its whole batch at once).
	BatchTimeout time.Duration
	// WriteTimeout bounds one produce request; default 10s.
	WriteTimeout time.Duration
	// Now stamps Change.PublishedAt; default time.Now.
	Now func() time.Time
}

// Change is the JSON value of one message.
type Change struct {
	Schema      string               `json:"schema"`
	ChangeID    string               `json:"change_id"`
	Entity      string               `json:"entity"`
	Key         string               `json:"key"`
	Fields      map[string]string    `json:"fields"`
	ChangedAt   map[string]time.Time `json:"changed_at"`
	EventIDs    []string             `json:"event_ids,omitempty"`
	PublishedAt time.Time            `json:"published_at"`
}

// Sink is a pipeline.Sink that publishes changes to Kafka.
type Sink struct {
	cfg Config
	w   *kafka.Writer
}

// New returns a sink writing to cfg.Topic. It connects lazily, on the
// first Write. Close releases the writer.
func New(cfg Config) (*Sink, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka sink: no brokers configured")
	}
	if cfg.Topic == "" {
		return nil, errors.New("kafka sink: topic is required")
	}
	if cfg.Entity == "" {
		cfg.Entity = "lead"
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 1_000_000
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = time.Millisecond
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sink{cfg: cfg, w: &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        cfg.Topic,
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: cfg.BatchTimeout,
		BatchSize:    1000,
		BatchBytes:   int64(cfg.MaxMessageBytes),
		WriteTimeout: cfg.WriteTimeout,
		// Retry in one layer only: the route's.
		MaxAttempts: 1,
	}}, nil
}

// Write publishes one message per record and reports one outcome per
// record, in order.
func (s *Sink) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	out := make([]pipeline.Outcome, len(recs))
	var msgs []kafka.Message
	var idx []int
	now := s.cfg.Now().UTC()
	for i, r := range recs {
		m, err := s.message(r, now)
		if err != nil {
			out[i].Err = err
			continue
		}
		msgs = append(msgs, m)
		idx = append(idx, i)
	}
	if len(msgs) == 0 {
		return out
	}
	err := s.w.WriteMessages(ctx, msgs...)
	var werrs kafka.WriteErrors
	switch {
	case err == nil:
	case errors.As(err, &werrs) && len(werrs) == len(msgs):
		for j, e := range werrs {
			if e != nil {
				out[idx[j]].Err = classify(e)
			}
		}
	default:
		e := classify(err)
		for _, i := range idx {
			out[i].Err = e
		}
	}
	return out
}

func (s *Sink) message(r *pipeline.Record, now time.Time) (kafka.Message, error) {
	ch := Change{
		Schema:      Schema,
		ChangeID:    changeID(r),
		Entity:      s.cfg.Entity,
		Key:         r.Key,
		Fields:      r.Fields,
		ChangedAt:   r.Stamps,
		EventIDs:    r.EventIDs,
		PublishedAt: now,
	}
	if ch.Fields == nil {
		ch.Fields = map[string]string{}
	}
	value, err := json.Marshal(ch)
	if err != nil {
		return kafka.Message{}, pipeline.Permanent("encode", fmt.Errorf("kafka sink: encode %s: %w", r.Key, err))
	}
	m := kafka.Message{
		Key:   []byte(r.Key),
		Value: value,
		Headers: []kafka.Header{
			{Key: "crmsync-record-key", Value: []byte(r.Key)},
			{Key: "crmsync-entity", Value: []byte(s.cfg.Entity)},
			{Key: "crmsync-change-id", Value: []byte(ch.ChangeID)},
		},
	}
	if size := len(m.Key) + len(m.Value) + headerBytes(m.Headers) + 64; size > s.cfg.MaxMessageBytes {
		return kafka.Message{}, pipeline.Permanent("too_large",
			fmt.Errorf("kafka sink: change of %s is %d bytes, more than the %d allowed", r.Key, size, s.cfg.MaxMessageBytes))
	}
	return m, nil
}

func headerBytes(hs []kafka.Header) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// changeID hashes what the change says, so a republished change has the
// same id.
func changeID(r *pipeline.Record) string {
	h := sha256.New()
	h.Write([]byte(r.Key))
	h.Write([]byte{0})
	h.Write([]byte(pipeline.FieldsHash(r.Fields)))
	names := make([]string, 0, len(r.Stamps))
	for f := range r.Stamps {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		h.Write([]byte{0})
		h.Write([]byte(f))
		h.Write([]byte{0})
		h.Write([]byte(r.Stamps[f].UTC().Format(time.RFC3339Nano)))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// classify makes a produce error a pipeline error class: refusals of the
// record itself are permanent, everything else (network, leaders, timeouts,
// authorisation being fixed by an operator) is transient.
func classify(err error) error {
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafka.MessageSizeTooLarge, kafka.InvalidRecord, kafka.InvalidMessage, kafka.RecordListTooLarge:
			return pipeline.Permanent(strconv.Itoa(int(ke)), fmt.Errorf("kafka sink: %w", err))
		}
	}
	var tl kafka.MessageTooLargeError
	if errors.As(err, &tl) {
		return pipeline.Permanent("too_large", fmt.Errorf("kafka sink: %w", err))
	}
	return fmt.Errorf("kafka sink: %w", err)
}

// CreateTopic creates the topic with the given partitions and replicas
// (each at least 1) unless it exists. Call it at start-up when the cluster
// does not create topics on first use.
func (s *Sink) CreateTopic(ctx context.Context, partitions, replicas int) error {
	c := &kafka.Client{Addr: kafka.TCP(s.cfg.Brokers...), Timeout: s.cfg.WriteTimeout}
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: s.cfg.Topic, NumPartitions: max(partitions, 1), ReplicationFactor: max(replicas, 1),
	}}})
	if err != nil {
		return fmt.Errorf("kafka sink: create topic %s: %w", s.cfg.Topic, err)
	}
	if err := res.Errors[s.cfg.Topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("kafka sink: create topic %s: %w", s.cfg.Topic, err)
	}
	return nil
}

// Close flushes and releases the writer.
func (s *Sink) Close() error { return s.w.Close() }
