package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/crmsync/crmsync/pipeline"
)

// Consumer is a route's consumer group (see Bus.Consumer) or an ephemeral
// replay (see Bus.ReplayFrom). Fetch must not be called concurrently with
// itself; Ack and Nak of its messages may come from any goroutine.
type Consumer struct {
	b     *Bus
	topic string
	group string        // "" for a replay
	start map[int]int64 // replay: where each partition starts

	mu        sync.Mutex
	closed    bool
	gen       uint64 // bumped by every rewind; older deliveries are stale
	parts     map[int]*partState
	nakDue    time.Time // earliest time a rewind is due; zero = none
	inflight  map[string]int
	seen      *idWindow // acknowledged event ids; nil = no duplicate check
	delivered map[position]int
	feed      *feed
}

type position struct {
	partition int
	offset    int64
}

// partState tracks one partition's deliveries that are not yet committed.
type partState struct {
	entries []*entry // in offset order
	next    int64    // replay: offset after the last committed entry; -1 = unknown
}

type entry struct {
	msg     kafka.Message
	id      string
	settled bool // acknowledged, skipped as a duplicate or dead-lettered
}

func newConsumer(b *Bus, topic, group string, start map[int]int64) *Consumer {
	c := &Consumer{
		b:         b,
		topic:     topic,
		group:     group,
		start:     start,
		parts:     map[int]*partState{},
		inflight:  map[string]int{},
		delivered: map[position]int{},
	}
	if b.cfg.dupWindow() > 0 {
		c.seen = newIDWindow(b.cfg.dupWindow(), 100_000)
	}
	return c
}

// Fetch commits what was acknowledged since the last call, rewinds when a
// message was nakked and its delay has passed, then waits up to wait for
// at most max messages. It returns early once max messages are there.
func (c *Consumer) Fetch(ctx context.Context, max int, wait time.Duration) ([]*pipeline.Message, error) {
	if max <= 0 {
		max = 1
	}
	if wait < 10*time.Millisecond {
		wait = 10 * time.Millisecond
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.commit(ctx); err != nil {
		return nil, err
	}
	if ready, err := c.rewindIfDue(ctx, deadline); err != nil || !ready {
		return nil, err
	}
	f, err := c.currentFeed()
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var out []*pipeline.Message
	for len(out) < max {
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-timer.C:
			return out, nil
		case err := <-f.errs:
			return out, fmt.Errorf("fetch %s: %w", c.topic, err)
		case km := <-f.ch:
			m, err := c.admit(ctx, f, km)
			if err != nil {
				return out, err
			}
			if m != nil {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// admit records a fetched Kafka message and turns it into a pipeline
// message; it returns nil for a duplicate or a dead letter.
func (c *Consumer) admit(ctx context.Context, f *feed, km kafka.Message) (*pipeline.Message, error) {
	ev, decErr := pipeline.UnmarshalEvent(km.Value)
	if decErr != nil && c.group != "" {
		// A message that is not an event can never be processed: park it in
		// the dead-letter topic rather than block the partition. (A replay
		// skips it: the route's consumer parked it already.)
		if err := c.b.deadLetter(ctx, km, decErr); err != nil {
			c.scheduleRewind(time.Second)
			return nil, fmt.Errorf("fetch %s: %w", c.topic, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f != c.feed {
		return nil, nil // rewound or closed meanwhile
	}
	ps := c.parts[km.Partition]
	if ps == nil {
		ps = &partState{next: -1}
		c.parts[km.Partition] = ps
	}
	e := &entry{msg: km, id: ev.ID}
	ps.entries = append(ps.entries, e)
	if decErr != nil {
		e.settled = true
		return nil, nil
	}
	if c.seen != nil && (c.inflight[ev.ID] > 0 || c.seen.has(ev.ID, time.Now())) {
		e.settled = true
		return nil, nil
	}
	c.inflight[ev.ID]++
	pos := position{km.Partition, km.Offset}
	c.delivered[pos]++
	return pipeline.NewMessage(ev, Seq(km.Partition, km.Offset), c.delivered[pos], &acker{c: c, gen: c.gen, e: e}), nil
}

// commit commits, per partition, the settled prefix of the deliveries.
func (c *Consumer) commit(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	var done []kafka.Message
	for p, ps := range c.parts {
		n := 0
		for n < len(ps.entries) && ps.entries[n].settled {
			delete(c.delivered, position{p, ps.entries[n].msg.Offset})
			n++
		}
		if n == 0 {
			continue
		}
		last := ps.entries[n-1].msg
		ps.entries = append([]*entry(nil), ps.entries[n:]...)
		ps.next = last.Offset + 1
		done = append(done, last)
	}
	f := c.feed
	c.mu.Unlock()
	if c.group == "" || len(done) == 0 || f == nil {
		return nil
	}
	if err := f.readers[0].CommitMessages(ctx, done...); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Most likely a rebalance took partitions away. Start over from the
		// committed offsets: at worst the batch comes again.
		c.b.cfg.logger().Warn("kafka commit failed; rewinding", "topic", c.topic, "group", c.group, "err", err)
		c.scheduleRewind(0)
	}
	return nil
}

// rewindIfDue reopens the readers when a Nak's delay has passed. It
// reports false (and waits until deadline) when a rewind is pending but
// not yet due: nothing may be delivered past a nakked message meanwhile.
func (c *Consumer) rewindIfDue(ctx context.Context, deadline time.Time) (bool, error) {
	c.mu.Lock()
	due := c.nakDue
	c.mu.Unlock()
	if due.IsZero() {
		return true, nil
	}
	if due.After(deadline) {
		return false, sleepUntil(ctx, deadline)
	}
	if err := sleepUntil(ctx, due); err != nil {
		return false, err
	}
	c.mu.Lock()
	old := c.feed
	c.feed = nil
	c.gen++
	c.nakDue = time.Time{}
	clear(c.inflight)
	for _, ps := range c.parts {
		if len(ps.entries) > 0 {
			ps.next = ps.entries[0].msg.Offset
		}
		ps.entries = nil
	}
	c.mu.Unlock()
	if old != nil {
		old.stop()
	}
	return true, nil
}

func (c *Consumer) scheduleRewind(delay time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := time.Now().Add(delay)
	if c.nakDue.IsZero() || at.Before(c.nakDue) {
		c.nakDue = at
	}
}

// currentFeed returns the running readers, starting them if needed.
func (c *Consumer) currentFeed() (*feed, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.feed != nil {
		return c.feed, nil
	}
	var readers []*kafka.Reader
	if c.group != "" {
		readers = append(readers, kafka.NewReader(kafka.ReaderConfig{
			Brokers:           c.b.addr,
			GroupID:           c.group,
			Topic:             c.topic,
			StartOffset:       kafka.FirstOffset,
			CommitInterval:    0, // synchronous commits, issued by Fetch
			SessionTimeout:    c.b.cfg.sessionTimeout(),
			HeartbeatInterval: c.b.cfg.sessionTimeout() / 4,
			RebalanceTimeout:  c.b.cfg.sessionTimeout(),
			JoinGroupBackoff:  250 * time.Millisecond,
			MaxWait:           250 * time.Millisecond,
			ReadBackoffMin:    10 * time.Millisecond,
			ReadBackoffMax:    250 * time.Millisecond,
			Logger:            nil,
			ErrorLogger:       nil,
		}))
	} else {
		for p, off := range c.start {
			if ps := c.parts[p]; ps != nil && ps.next >= 0 {
				off = ps.next
			}
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers:        c.b.addr,
				Topic:          c.topic,
				Partition:      p,
				MaxWait:        250 * time.Millisecond,
				ReadBackoffMin: 10 * time.Millisecond,
				ReadBackoffMax: 250 * time.Millisecond,
			})
			if err := r.SetOffset(off); err != nil {
				r.Close()
				for _, r := range readers {
					r.Close()
				}
				return nil, fmt.Errorf("replay %s[%d] from %d: %w", c.topic, p, off, err)
			}
			readers = append(readers, r)
		}
	}
	c.feed = startFeed(readers)
	return c.feed, nil
}

// Close commits what was acknowledged and stops the readers (leaving the
// consumer group). Deliveries not acknowledged come again to the next
// consumer of the route.
func (c *Consumer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.b.cfg.writeTimeout())
	defer cancel()
	err := c.commit(ctx)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	c.mu.Lock()
	c.closed = true
	f := c.feed
	c.feed = nil
	c.gen++
	c.mu.Unlock()
	if f != nil {
		f.stop()
	}
	c.b.unregister(c)
	return err
}

type acker struct {
	c   *Consumer
	gen uint64
	e   *entry
}

// Ack marks the message done; its offset is committed by the next Fetch
// once every earlier message of its partition is done too.
func (a *acker) Ack() error {
	c := a.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if a.gen != c.gen || a.e.settled {
		return nil // rewound since: the message comes again anyway
	}
	a.e.settled = true
	c.release(a.e.id)
	if c.seen != nil {
		c.seen.add(a.e.id, time.Now())
	}
	return nil
}

// Nak makes the message, and every later one of its partition, come again
// after delay: the next Fetch after delay rewinds to the first
// uncommitted offset.
func (a *acker) Nak(delay time.Duration) error {
	c := a.c
	c.mu.Lock()
	if a.gen != c.gen || a.e.settled {
		c.mu.Unlock()
		return nil
	}
	c.release(a.e.id)
	c.mu.Unlock()
	c.scheduleRewind(max(delay, 0))
	return nil
}

// InProgress is a no-op: Kafka has no per-message acknowledgement deadline
// and kafka-go heartbeats the group in the background.
func (a *acker) InProgress() error { return nil }

func (c *Consumer) release(id string) {
	if c.inflight[id] <= 1 {
		delete(c.inflight, id)
		return
	}
	c.inflight[id]--
}

// feed runs one goroutine per reader, moving fetched messages to ch.
type feed struct {
	readers []*kafka.Reader
	ch      chan kafka.Message
	errs    chan error
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func startFeed(readers []*kafka.Reader) *feed {
	ctx, cancel := context.WithCancel(context.Background())
	f := &feed{readers: readers, ch: make(chan kafka.Message, 512), errs: make(chan error, 1), cancel: cancel}
	for _, r := range readers {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					select {
					case f.errs <- err:
					default:
					}
					if !pipeline.Sleep(ctx, 250*time.Millisecond) {
						return
					}
					continue
				}
				select {
				case f.ch <- m:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return f
}

// stop ends the goroutines and closes the readers; buffered messages are
// dropped (they were never delivered and are read again).
func (f *feed) stop() {
	f.cancel()
	f.wg.Wait()
	for _, r := range f.readers {
		_ = r.Close()
	}
}

// Seq packs a partition and an offset into a Message.Seq:
// partition<<48 | offset.
func Seq(partition int, offset int64) uint64 {
	return uint64(partition)<<48 | uint64(offset)&(1<<48-1)
}

// Position unpacks a Message.Seq made by Seq.
func Position(seq uint64) (partition int, offset int64) {
	return int(seq >> 48), int64(seq & (1<<48 - 1))
}

func sleepUntil(ctx context.Context, t time.Time) error {
	if !pipeline.Sleep(ctx, time.Until(t)) {
		return ctx.Err()
	}
	return nil
}
