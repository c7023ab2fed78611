package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/segmentio/kafka-go"

	"github.com/crmsync/crmsync/pipeline"
)

// Header keys the bus sets on every record.
const (
	HeaderEventID = "crmsync-event-id"
	HeaderVendor  = "crmsync-vendor"
	HeaderEntity  = "crmsync-entity"
	HeaderOrigin  = "crmsync-origin"
)

// ErrClosed is returned by a Bus or Consumer used after Close.
var ErrClosed = errors.New("kafkabus: closed")

// Bus is a Kafka-backed pipeline bus. It is safe for concurrent use.
type Bus struct {
	cfg    Config
	addr   []string
	client *kafka.Client
	writer *kafka.Writer

	mu        sync.Mutex
	closed    bool
	topics    map[string]bool    // topics known to exist
	consumers map[*Consumer]bool // open consumers, closed with the bus
	routes    map[string]string  // route → topic, for Backlog
}

// Open connects to the cluster, checks that it answers and creates the
// dead-letter topic. It does not start any goroutine that outlives Close.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	if len(cfg.Brokers) == 0 {
		return nil, fmt.Errorf("kafkabus: no brokers configured")
	}
	b := &Bus{
		cfg:       cfg,
		addr:      append([]string(nil), cfg.Brokers...),
		client:    &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: cfg.writeTimeout()},
		topics:    map[string]bool{},
		consumers: map[*Consumer]bool{},
		routes:    map[string]string{},
	}
	b.writer = &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: cfg.batchTimeout(),
		BatchSize:    cfg.batchSize(),
		WriteTimeout: cfg.writeTimeout(),
		// A leader election answers NotLeaderForPartition; refreshing the
		// metadata and sending again is the protocol's own recovery step,
		// not a retry policy, so the writer keeps a few attempts.
		MaxAttempts: 3,
	}
	if err := b.ensureTopic(ctx, cfg.deadLetterTopic()); err != nil {
		b.writer.Close()
		return nil, err
	}
	return b, nil
}

// Ready reports whether the cluster answers a metadata request.
func (b *Bus) Ready(ctx context.Context) error {
	if b.isClosed() {
		return ErrClosed
	}
	if _, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{b.cfg.deadLetterTopic()}}); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

// Publish writes ev to the topic of its subject and returns once every
// in-sync replica stored it. The event id travels in the crmsync-event-id
// header; Kafka keeps repeated publishes, and consumers skip them (see the
// package doc).
func (b *Bus) Publish(ctx context.Context, ev pipeline.Event) error {
	data, err := ev.Encode()
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if b.isClosed() {
		return ErrClosed
	}
	topic := ev.Subject()
	if err := b.ensureTopic(ctx, topic); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := b.writer.WriteMessages(ctx, record(ev, data)); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
}

// PublishBatch writes evs with one WriteMessages call and returns once every
// in-sync replica stored all of them. Records of one key keep their order
// (one partition, one produce batch in order).
func (b *Bus) PublishBatch(ctx context.Context, evs []pipeline.Event) error {
	if b.isClosed() {
		return ErrClosed
	}
	msgs := make([]kafka.Message, len(evs))
	for i, ev := range evs {
		data, err := ev.Encode()
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		if err := b.ensureTopic(ctx, ev.Subject()); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		msgs[i] = record(ev, data)
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := b.writer.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publish %d events: %w", len(msgs), err)
	}
	return nil
}

// record is the Kafka message of an event.
func record(ev pipeline.Event, data []byte) kafka.Message {
	return kafka.Message{
		Topic: ev.Subject(),
		Key:   []byte(RecordKey(ev.Vendor, ev.ExternalID)),
		Value: data,
		Headers: []kafka.Header{
			{Key: HeaderEventID, Value: []byte(ev.ID)},
			{Key: HeaderVendor, Value: []byte(ev.Vendor)},
			{Key: HeaderEntity, Value: []byte(ev.Entity)},
			{Key: HeaderOrigin, Value: []byte(ev.Origin)},
		},
	}
}

// RecordKey is the Kafka message key of a vendor record: every change of
// one record goes to one partition, so per-record order holds.
func RecordKey(vendor, externalID string) string { return vendor + ":" + externalID }

// Consumer returns the consumer of a route: the route's consumer group,
// reading the topic named by filter (a subject such as crm.lead.leadexec;
// wildcards are not supported). A new group starts at the oldest event.
// The returned consumer is closed by Close.
func (b *Bus) Consumer(ctx context.Context, route, filter string) (pipeline.Consumer, error) {
	if route == "" {
		return nil, fmt.Errorf("consumer: route is empty")
	}
	if err := checkFilter(filter); err != nil {
		return nil, fmt.Errorf("consumer for route %s: %w", route, err)
	}
	if err := b.ensureTopic(ctx, filter); err != nil {
		return nil, fmt.Errorf("consumer for route %s: %w", route, err)
	}
	c := newConsumer(b, filter, b.GroupID(route), nil)
	if err := b.register(c); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.routes[route] = filter
	b.mu.Unlock()
	return c, nil
}

// GroupID is the consumer group of a route.
func (b *Bus) GroupID(route string) string { return b.cfg.groupPrefix() + route }

// Close closes every consumer (committing what was acknowledged) and the
// writer. Messages fetched and not acknowledged are redelivered by the
// next consumer of the route.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	cs := make([]*Consumer, 0, len(b.consumers))
	for c := range b.consumers {
		cs = append(cs, c)
	}
	b.mu.Unlock()
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	errs = append(errs, b.writer.Close())
	return errors.Join(errs...)
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *Bus) register(c *Consumer) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.consumers[c] = true
	return nil
}

func (b *Bus) unregister(c *Consumer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.consumers, c)
}

// ensureTopic creates topic unless this bus already knows it exists.
func (b *Bus) ensureTopic(ctx context.Context, topic string) error {
	b.mu.Lock()
	known := b.topics[topic]
	b.mu.Unlock()
	if known {
		return nil
	}
	res, err := b.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic:             topic,
		NumPartitions:     b.cfg.partitions(),
		ReplicationFactor: b.cfg.replicas(),
	}}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if err := res.Errors[topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	b.mu.Lock()
	b.topics[topic] = true
	b.mu.Unlock()
	return nil
}

// partitions lists the partition ids of topic.
func (b *Bus) partitions(ctx context.Context, topic string) ([]int, error) {
	md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata %s: %w", topic, t.Error)
		}
		ids := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ids = append(ids, p.ID)
		}
		return ids, nil
	}
	return nil, fmt.Errorf("metadata %s: topic not found", topic)
}

func checkFilter(filter string) error {
	switch {
	case filter == "":
		return fmt.Errorf("filter is empty")
	case strings.ContainsAny(filter, "*> "):
		return fmt.Errorf("filter %q: kafka topics take no wildcards", filter)
	}
	return nil
}
