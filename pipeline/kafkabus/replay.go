package kafkabus

import (
	"context"
	"fmt"
	"strings"
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
	parts, err := b.replayPartitions(ctx, filter)
	if err != nil {
		return nil, err
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
	parts, err := b.replayPartitions(ctx, filter)
	if err != nil {
		return nil, err
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

// topicPrefix starts the name of every topic the bus publishes to (see
// pipeline.Subject).
const topicPrefix = "crm."

// EndPosition returns where every topic of the bus ends now: per topic and
// partition, the offset the next message gets. A named checkpoint on Kafka
// is this set of offsets.
func (b *Bus) EndPosition(ctx context.Context) (pipeline.Position, error) {
	md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return pipeline.Position{}, fmt.Errorf("end position: metadata: %w", err)
	}
	reqs := map[string][]kafka.OffsetRequest{}
	for _, t := range md.Topics {
		if !strings.HasPrefix(t.Name, topicPrefix) || t.Internal {
			continue
		}
		if t.Error != nil {
			return pipeline.Position{}, fmt.Errorf("end position: metadata %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			reqs[t.Name] = append(reqs[t.Name], kafka.LastOffsetOf(p.ID))
		}
	}
	pos := pipeline.Position{Offsets: make(map[string]map[int]int64, len(reqs))}
	if len(reqs) == 0 {
		return pos, nil
	}
	res, err := b.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: reqs})
	if err != nil {
		return pipeline.Position{}, fmt.Errorf("end position: list offsets: %w", err)
	}
	for topic, parts := range res.Topics {
		offs := make(map[int]int64, len(parts))
		for _, po := range parts {
			if po.Error != nil {
				return pipeline.Position{}, fmt.Errorf("end position: %s[%d]: %w", topic, po.Partition, po.Error)
			}
			offs[po.Partition] = po.LastOffset
		}
		pos.Offsets[topic] = offs
	}
	return pos, nil
}

// ReplayAfter returns an ephemeral consumer of filter's topic that starts
// where pos ends the topic (see EndPosition): at the offset each partition
// had for its next message. A partition or the whole topic missing from pos
// was created after it, and is read from its oldest offset. See ReplayFrom
// for settling and Close.
func (b *Bus) ReplayAfter(ctx context.Context, filter string, pos pipeline.Position) (pipeline.Consumer, error) {
	parts, err := b.replayPartitions(ctx, filter)
	if err != nil {
		return nil, err
	}
	start := make(map[int]int64, len(parts))
	for _, p := range parts {
		start[p] = kafka.FirstOffset
		if off, ok := pos.Offsets[filter][p]; ok {
			start[p] = off
		}
	}
	return b.replay(filter, start)
}

// replayPartitions checks that filter names one topic and returns the
// topic's partitions, for a replay of it.
func (b *Bus) replayPartitions(ctx context.Context, filter string) ([]int, error) {
	if err := checkFilter(filter); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	parts, err := b.partitions(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return parts, nil
}
