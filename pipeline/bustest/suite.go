// Package bustest is the conformance suite every crmsync bus implementation
// runs (natsbus, kafkabus), in the manner of Watermill's pubsub tests: one
// Run(t, Factory) call, with Features saying which optional guarantees the
// implementation gives. It also holds the throughput benchmark helper.
//
// The suite checks, on real buses: publish/consume, batch publish (when the
// bus is a pipeline.BatchPublisher), repeated publishes
// dropped, redelivery of unacknowledged messages after the consumer's
// process went away, Nak, order per record key, independent consumers per
// route, replay from a position and from a time, and dead letters.
//
// Duplicates: a bus with Features.DurableDedup drops a repeated publish of
// an event id itself, across restarts (JetStream's duplicate window).
// Without it (Kafka) the suite requires that a consumer skips repeats
// within one process and that a repeat published after a restart still
// carries the same event id, so the route's write ledger drops it.
package bustest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/conformance"
	"github.com/crmsync/crmsync/pipeline"
)

// Bus is what the suite drives.
type Bus interface {
	pipeline.Publisher
	pipeline.ConsumerSource
	Close() error
}

// Replayer is the replay capability (Features.Replay).
type Replayer interface {
	// ReplayFrom returns an ephemeral consumer starting at the position seq
	// (a Message.Seq).
	ReplayFrom(ctx context.Context, filter string, seq uint64) (pipeline.Consumer, error)
	// ReplaySince returns an ephemeral consumer starting at the first event
	// stored at or after since.
	ReplaySince(ctx context.Context, filter string, since time.Time) (pipeline.Consumer, error)
}

// Observer is the backlog capability (Features.Backlog): what `crmsync
// status` reports per route.
type Observer interface {
	// Backlog is how many events of the route are not yet acknowledged.
	Backlog(ctx context.Context, route string) (uint64, error)
	// Lag is the age of the oldest of them, 0 when there is none.
	Lag(ctx context.Context, route string) (time.Duration, error)
}

// Features are the optional guarantees of an implementation.
type Features struct {
	// DurableDedup: the bus itself drops a repeated publish of an event id,
	// also after a restart.
	DurableDedup bool
	// DurableAck: an Ack that returned nil survives a Close of the bus.
	// Without it (JetStream's Ack is fire-and-forget) acknowledged messages
	// may come again after a restart, and the suite only requires that
	// every unacknowledged one does.
	DurableAck bool
	// DeliveryCountSurvivesRestart: Message.Delivered counts deliveries
	// made before a restart too.
	DeliveryCountSurvivesRestart bool
	// Replay: the bus implements Replayer.
	Replay bool
	// TotalOrder: a consumer receives the events of one subject in the
	// order they were stored, whatever their record. Without it the suite
	// requires order per record only (a multi-partition Kafka topic).
	TotalOrder bool
	// ExactReplayFrom: ReplayFrom delivers nothing stored before the
	// position. Without it the suite only requires every event from the
	// position on (a multi-partition Kafka topic replays its other
	// partitions whole).
	ExactReplayFrom bool
	// Backlog: the bus implements Observer. A Kafka-style bus may count an
	// acknowledged event until the consumer's next Fetch.
	Backlog bool
}

// Env is one empty bus installation: a store directory, a cluster.
type Env struct {
	// Open starts a new process's bus on the installation. Buses opened on
	// one Env see the same stored events and consumer positions. The suite
	// closes every bus it opens, at most one at a time.
	Open func(t *testing.T) Bus
	// PublishRaw stores data on subject as a foreign producer would,
	// bypassing the event envelope; nil skips the dead-letter test.
	PublishRaw func(t *testing.T, b Bus, subject string, data []byte)
	// DeadLetters returns the payloads the bus parked as dead letters so
	// far; nil when the bus only drops them.
	DeadLetters func(t *testing.T, b Bus) [][]byte
}

// Factory makes a fresh Env for each test.
type Factory struct {
	Features Features
	NewEnv   func(t *testing.T) *Env
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, f Factory) {
	conformance.Run(t, f, []conformance.Test[Factory]{
		{Name: "PublishConsume", Run: testPublishConsume},
		{Name: "PublishBatch", Run: testPublishBatch},
		{Name: "DuplicatePublish", Run: testDuplicatePublish},
		{Name: "RedeliveryAfterRestart", Run: testRedeliveryAfterRestart},
		{Name: "Nak", Run: testNak},
		{Name: "OrderPerKey", Run: testOrderPerKey},
		{Name: "IndependentRoutes", Run: testIndependentRoutes},
		{Name: "ReplayFromPosition", Run: testReplayFrom},
		{Name: "ReplaySinceTime", Run: testReplaySince},
		{Name: "DeadLetters", Run: testDeadLetters},
		{Name: "BacklogAndLag", Run: testBacklogAndLag},
	})
}

const (
	vendor = "leadexec"
	entity = "lead"
)

var subject = pipeline.Subject(entity, vendor)

// Event returns a sealed lead event of record id with the given version.
func Event(t testing.TB, id string, version int) pipeline.Event {
	t.Helper()
	ev := pipeline.Event{
		Vendor: vendor, Entity: entity, ExternalID: id, Version: fmt.Sprint(version),
		Fields:    map[string]string{"Email": id + "@example.com", "Company": fmt.Sprintf("v%d", version)},
		ChangedAt: time.Date(2025, 3, 1, 12, 0, version, 0, time.UTC),
	}
	if err := ev.Seal(); err != nil {
		t.Fatal(err)
	}
	return ev
}

func open(t *testing.T, env *Env) Bus {
	t.Helper()
	b := env.Open(t)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func publish(t *testing.T, b pipeline.Publisher, evs ...pipeline.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, ev := range evs {
		if err := b.Publish(ctx, ev); err != nil {
			t.Fatalf("publish %s: %v", ev.ExternalID, err)
		}
	}
}

func consumer(t *testing.T, b Bus, route string) pipeline.Consumer {
	t.Helper()
	c, err := b.Consumer(context.Background(), route, subject)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Fetch fetches from c until n messages arrived or wait passed and returns
// what arrived; a fetch error is logged and fetching goes on.
func Fetch(t testing.TB, c pipeline.Consumer, n int, wait time.Duration) []*pipeline.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var got []*pipeline.Message
	for len(got) < n && ctx.Err() == nil {
		ms, err := c.Fetch(ctx, n-len(got), 200*time.Millisecond)
		if err != nil && ctx.Err() == nil {
			t.Logf("fetch: %v", err)
		}
		got = append(got, ms...)
	}
	return got
}

// FetchN fetches until n messages arrived; it fails the test after 20s.
func FetchN(t testing.TB, c pipeline.Consumer, n int) []*pipeline.Message {
	t.Helper()
	got := Fetch(t, c, n, 20*time.Second)
	if len(got) < n {
		t.Fatalf("fetched %d messages, want %d: %v", len(got), n, ids(got))
	}
	return got
}

// versionsInOrder fails the test unless every record's events in ms come
// in version order 1, 2, 3, …, and returns each record's last version. when
// starts the failure ("after nak, ").
func versionsInOrder(t *testing.T, when string, ms []*pipeline.Message) map[string]int {
	t.Helper()
	last := map[string]int{}
	for _, m := range ms {
		v, _ := strconv.Atoi(m.Event.Version)
		if v != last[m.Event.ExternalID]+1 {
			t.Fatalf("%srecord %s: version %d after %d", when, m.Event.ExternalID, v, last[m.Event.ExternalID])
		}
		last[m.Event.ExternalID] = v
	}
	return last
}

// expectNone fails when c delivers anything within wait.
func expectNone(t *testing.T, c pipeline.Consumer, wait time.Duration) {
	t.Helper()
	ms, err := c.Fetch(context.Background(), 100, wait)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if len(ms) > 0 {
		t.Fatalf("unexpected deliveries %v", ids(ms))
	}
}

func ackAll(t *testing.T, ms []*pipeline.Message) {
	t.Helper()
	for _, m := range ms {
		if err := m.Ack(); err != nil {
			t.Fatalf("ack %s: %v", m.Event.ExternalID, err)
		}
	}
}

func ids(ms []*pipeline.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Event.ExternalID + "/" + m.Event.Version
	}
	return out
}

// wantIDs compares the delivered record/version pairs with want, in order
// when the bus keeps a total order, as sets otherwise (the suite checks
// per-record order separately).
func wantIDs(t *testing.T, f Factory, ms []*pipeline.Message, want ...string) {
	t.Helper()
	got := ids(ms)
	if !f.Features.TotalOrder {
		want = slices.Clone(want)
		slices.Sort(got)
		slices.Sort(want)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

func closeConsumer(c pipeline.Consumer) {
	if cl, ok := c.(io.Closer); ok {
		_ = cl.Close()
	}
}
