package kafkabus

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/crmsync/crmsync/pipeline"
)

// ReplayFrom returns an ephemeral consumer of filter's topic that starts
// at seq (a Message.Seq, see Seq). seq's partition is read from seq's
// offset; the other partitions of the topic are read from their oldest
// offset, because one number cannot say where they stood and a replay must
// rather repeat than skip (the write ledger drops what was already
// written). With the default single partition this is exactly "from seq".
//
// The consumer belongs to no group and commits nothing: Ack only settles,
// Nak rewinds as on a route's consumer. Close it when done; Bus.Close
// closes it too.
func (b *Bus) ReplayFrom(ctx context.Context, filter string, seq uint64) (pipeline.Consumer, error) {
	if err := checkFilter(filter); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	parts, err := b.partitions(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	p0, off := Position(seq)
	start := make(map[int]int64, len(parts))
	for _, p := range parts {
		start[p] = kafka.FirstOffset
	}
	if _, ok := start[p0]; !ok {
		return nil, fmt.Errorf("replay: %s has no partition %d", filter, p0)
	}
	start[p0] = off
	return b.replay(filter, start)
}

// ReplaySince returns an ephemeral consumer of filter's topic that starts,
// in every partition, at the first message stored at or after since (the
// record timestamp the writer set when publishing). A partition with no
// such message starts at its end. See ReplayFrom for settling and Close.
func (b *Bus) ReplaySince(ctx context.Context, filter string, since time.Time) (pipeline.Consumer, error) {
	if err := checkFilter(filter); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	parts, err := b.partitions(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	req := make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		req[i] = kafka.TimeOffsetOf(p, since)
	}
	res, err := b.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{filter: req}})
	if err != nil {
		return nil, fmt.Errorf("replay %s since %s: %w", filter, since.Format(time.RFC3339), err)
	}
	start := make(map[int]int64, len(parts))
	for _, p := range parts {
		start[p] = kafka.LastOffset
	}
	for _, po := range res.Topics[filter] {
		if po.Error != nil {
			return nil, fmt.Errorf("replay %s[%d] since %s: %w", filter, po.Partition, since.Format(time.RFC3339), po.Error)
		}
		for off := range po.Offsets {
			if off >= 0 {
				start[po.Partition] = off
			}
		}
	}
	return b.replay(filter, start)
}

func (b *Bus) replay(topic string, start map[int]int64) (pipeline.Consumer, error) {
	c := newConsumer(b, topic, "", start)
	if err := b.register(c); err != nil {
		return nil, err
	}
	return c, nil
}
