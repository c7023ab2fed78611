package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
)

// ErrUnknownRoute is returned by Backlog and Lag for a route whose topic
// the bus cannot tell: this process opened no consumer for it and its group
// has committed nothing.
var ErrUnknownRoute = errors.New("kafkabus: route has no consumer")

// partBacklog is one partition's uncommitted stretch [from, high).
type partBacklog struct {
	partition  int
	from, high int64
}

// Backlog reports how many events of the route its consumer group has not
// committed: over the partitions of the route's topic, the high watermark
// minus the group's committed offset, or minus the partition's first
// offset when the group committed nothing there. An acknowledged event
// counts until the consumer's next Fetch commits it. It returns
// ErrUnknownRoute when the route's topic is unknown (see Lag).
func (b *Bus) Backlog(ctx context.Context, route string) (uint64, error) {
	_, parts, err := b.uncommitted(ctx, route)
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, p := range parts {
		n += uint64(p.high - p.from)
	}
	return n, nil
}

// Lag is the age of the oldest event of the route that its group has not
// committed, by the record timestamp the writer set on publishing (0 when
// the backlog is 0). It reads one record per partition with a backlog. The
// route's topic is the one its consumer in this process reads; failing
// that, the one its group has committed offsets for (ErrUnknownRoute when
// there is none).
func (b *Bus) Lag(ctx context.Context, route string) (time.Duration, error) {
	topic, parts, err := b.uncommitted(ctx, route)
	if err != nil {
		return 0, err
	}
	var oldest time.Time
	for _, p := range parts {
		if p.from >= p.high {
			continue
		}
		at, err := b.recordTime(ctx, topic, p.partition, p.from)
		if err != nil {
			return 0, fmt.Errorf("lag of route %s: %w", route, err)
		}
		if !at.IsZero() && (oldest.IsZero() || at.Before(oldest)) {
			oldest = at
		}
	}
	if oldest.IsZero() {
		return 0, nil
	}
	return max(time.Since(oldest), 0), nil
}

// uncommitted returns the route's topic and, per partition, the stretch
// its group has not committed.
func (b *Bus) uncommitted(ctx context.Context, route string) (string, []partBacklog, error) {
	if b.isClosed() {
		return "", nil, ErrClosed
	}
	group := b.GroupID(route)
	topic, err := b.routeTopic(ctx, route, group)
	if err != nil {
		return "", nil, err
	}
	ids, err := b.partitions(ctx, topic)
	if err != nil {
		return "", nil, fmt.Errorf("backlog of route %s: %w", route, err)
	}
	committed, err := b.committed(ctx, group, topic, ids)
	if err != nil {
		return "", nil, fmt.Errorf("backlog of route %s: %w", route, err)
	}
	reqs := make([]kafka.OffsetRequest, 0, 2*len(ids))
	for _, id := range ids {
		reqs = append(reqs, kafka.FirstOffsetOf(id), kafka.LastOffsetOf(id))
	}
	res, err := b.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return "", nil, fmt.Errorf("backlog of route %s: list offsets of %s: %w", route, topic, err)
	}
	var out []partBacklog
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return "", nil, fmt.Errorf("backlog of route %s: offsets of %s[%d]: %w", route, topic, po.Partition, po.Error)
		}
		from := po.FirstOffset
		if c, ok := committed[po.Partition]; ok && c >= 0 {
			// Retention may have deleted records the group never read.
			from = max(c, po.FirstOffset)
		}
		out = append(out, partBacklog{partition: po.Partition, from: from, high: max(po.LastOffset, from)})
	}
	return topic, out, nil
}

// routeTopic is the topic a route reads: the one its consumer in this
// process was opened on, else the only one its group committed offsets for.
func (b *Bus) routeTopic(ctx context.Context, route, group string) (string, error) {
	b.mu.Lock()
	topic, ok := b.routes[route]
	b.mu.Unlock()
	if ok {
		return topic, nil
	}
	res, err := b.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group})
	if err != nil {
		return "", fmt.Errorf("backlog of route %s: committed offsets of group %s: %w", route, group, err)
	}
	if res.Error != nil && !errors.Is(res.Error, kafka.GroupIdNotFound) {
		return "", fmt.Errorf("backlog of route %s: committed offsets of group %s: %w", route, group, res.Error)
	}
	var topics []string
	for t := range res.Topics {
		topics = append(topics, t)
	}
	if len(topics) != 1 {
		return "", fmt.Errorf("backlog of route %s: group %s committed to %d topics: %w", route, group, len(topics), ErrUnknownRoute)
	}
	return topics[0], nil
}

// committed returns the group's committed offset per partition (-1: none).
func (b *Bus) committed(ctx context.Context, group, topic string, ids []int) (map[int]int64, error) {
	res, err := b.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	out := make(map[int]int64, len(ids))
	if errors.Is(res.Error, kafka.GroupIdNotFound) {
		return out, nil // no member ever committed: nothing is
	}
	if res.Error != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, res.Error)
	}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("committed offset of group %s on %s[%d]: %w", group, topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}

// recordTime returns the timestamp of the record at offset (or of the first
// one after it, when it was compacted away); zero when there is none.
func (b *Bus) recordTime(ctx context.Context, topic string, partition int, offset int64) (time.Time, error) {
	res, err := b.client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: partition, Offset: offset,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	if err != nil {
		return time.Time{}, fmt.Errorf("read %s[%d] at %d: %w", topic, partition, offset, err)
	}
	if res.Error != nil {
		return time.Time{}, fmt.Errorf("read %s[%d] at %d: %w", topic, partition, offset, res.Error)
	}
	for {
		r, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("read %s[%d] at %d: %w", topic, partition, offset, err)
		}
		closeBytes(r)
		// A fetch answers whole batches, which may start before offset.
		if r.Offset >= offset {
			return r.Time, nil
		}
	}
}

func closeBytes(r *kafka.Record) {
	if r.Key != nil {
		r.Key.Close()
	}
	if r.Value != nil {
		r.Value.Close()
	}
}
