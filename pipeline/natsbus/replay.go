package natsbus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmsync/crmsync/pipeline"
)

// replayIdle is how long an ephemeral replay consumer may go unfetched
// before the server deletes it (a replay whose process died).
const replayIdle = 5 * time.Minute

// ReplayFrom returns an ephemeral consumer of the events of filter from
// stream sequence seq on (seq 0 = from the first). It acknowledges
// explicitly like a route's consumer but leaves every route's position
// alone. Close deletes it; otherwise the server does after 5 minutes
// without a fetch.
func (b *Bus) ReplayFrom(ctx context.Context, filter string, seq uint64) (pipeline.Consumer, error) {
	cfg := jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if seq > 0 {
		cfg = jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: seq}
	}
	return b.replay(ctx, filter, cfg)
}

// ReplaySince returns an ephemeral consumer of the events of filter stored
// at or after since. See ReplayFrom.
func (b *Bus) ReplaySince(ctx context.Context, filter string, since time.Time) (pipeline.Consumer, error) {
	return b.replay(ctx, filter, jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since})
}

func (b *Bus) replay(ctx context.Context, filter string, cfg jetstream.ConsumerConfig) (pipeline.Consumer, error) {
	cfg.Description = "crmsync replay " + filter
	cfg.FilterSubject = filter
	cfg.AckPolicy = jetstream.AckExplicitPolicy
	cfg.AckWait = b.cfg.ackWait()
	cfg.MaxDeliver = -1
	cfg.MaxAckPending = 20000
	cfg.InactiveThreshold = replayIdle
	c, err := b.js.CreateConsumer(ctx, b.cfg.stream(), cfg)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", filter, err)
	}
	return &ReplayConsumer{consumer: consumer{c: c}, js: b.js, stream: b.cfg.stream(), name: c.CachedInfo().Name}, nil
}

// ReplayConsumer is an ephemeral consumer made by ReplayFrom or
// ReplaySince. Fetch as for a route; Close when done.
type ReplayConsumer struct {
	consumer
	js     jetstream.JetStream
	stream string
	name   string
}

// Close deletes the consumer on the server.
func (r *ReplayConsumer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.js.DeleteConsumer(ctx, r.stream, r.name); err != nil {
		return fmt.Errorf("replay: delete consumer %s: %w", r.name, err)
	}
	return nil
}
