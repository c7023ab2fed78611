package pipeline

import (
	"context"
	"time"
)

// Publisher puts events on the bus.
//
// Publish returns nil only once the bus has stored the event durably. An
// event whose ID the bus has already stored is dropped by the bus and
// reported as success, so callers may publish again whenever they are unsure.
type Publisher interface {
	Publish(ctx context.Context, ev Event) error
}

// BatchPublisher is the optional capability of a bus to store many events
// with one wait instead of one wait per event. Backfills use it per page.
//
// PublishBatch returns nil only once the bus has stored every event of evs
// durably, in their order per record. On error any of them may have been
// stored; publishing them again is safe, as with Publish.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, evs []Event) error
}

// Consumer is one route's durable position on the bus.
type Consumer interface {
	// Fetch waits up to wait for at most max messages and returns what
	// arrived (possibly none). It returns early once max messages are there.
	Fetch(ctx context.Context, max int, wait time.Duration) ([]*Message, error)
}

// Message is one delivered event together with the means to settle it.
// Exactly one of Ack or Nak must be called.
type Message struct {
	Event     Event
	Seq       uint64 // stream position
	Delivered int    // delivery count, 1 on first delivery
	acker     Acker
	// backfill marks a message the route took from its backfill consumer:
	// its Seq is not a position in the change-event stream.
	backfill bool
}

// Acker settles a delivered message on the bus that delivered it.
type Acker interface {
	Ack() error
	Nak(delay time.Duration) error
	InProgress() error
}

// NewMessage is used by bus implementations.
func NewMessage(ev Event, seq uint64, delivered int, a Acker) *Message {
	return &Message{Event: ev, Seq: seq, Delivered: delivered, acker: a}
}

// Ack tells the bus the message is done with (written or dead-lettered).
func (m *Message) Ack() error { return m.acker.Ack() }

// Nak asks the bus to deliver the message again after delay.
func (m *Message) Nak(delay time.Duration) error { return m.acker.Nak(delay) }

// InProgress extends the time the bus waits before redelivering.
func (m *Message) InProgress() error { return m.acker.InProgress() }
