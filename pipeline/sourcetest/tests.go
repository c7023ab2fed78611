package sourcetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// pollTimeout bounds one poll of the suite.
const pollTimeout = time.Minute

// quiet is how long the bus must deliver nothing for drain to take it as
// empty.
const quiet = 300 * time.Millisecond

// errBusDown is what a publisher of the suite answers while the bus is
// "down".
var errBusDown = errors.New("sourcetest: the bus is unavailable")

// publisher forwards to the bus while it may: left publishes more (-1: no
// limit), then it fails them all; after the crash-th successful publish it
// ends the poll's context, as a process dying there would. It keeps what
// the bus acknowledged.
type publisher struct {
	inner pipeline.Publisher

	mu     sync.Mutex
	left   int
	crash  int
	cancel context.CancelFunc
	acked  []pipeline.Event
}

func (p *publisher) Publish(ctx context.Context, ev pipeline.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.left == 0 {
		return errBusDown
	}
	if err := p.inner.Publish(ctx, ev); err != nil {
		return err
	}
	p.left--
	p.acked = append(p.acked, ev)
	if p.crash > 0 && len(p.acked) == p.crash && p.cancel != nil {
		p.cancel()
	}
	return nil
}

func (p *publisher) published() []pipeline.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.acked)
}

// poll runs one poll and returns its error.
func poll(ctx context.Context, p Poll) error {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	return p(ctx)
}

func mustPoll(t *testing.T, what string, p Poll) {
	t.Helper()
	if err := poll(context.Background(), p); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// consumers numbers the suite's consumers, each a new route on the bus.
var consumers atomic.Int64

func consumer(t *testing.T, env *Env) pipeline.Consumer {
	t.Helper()
	c, err := env.Bus.Consumer(context.Background(), fmt.Sprintf("sourcetest-%d", consumers.Add(1)), env.Subject)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// drain acknowledges and returns everything c delivers until it has been
// quiet for a while.
func drain(t *testing.T, c pipeline.Consumer) []pipeline.Event {
	t.Helper()
	return testenv.Drain(t, c, quiet)
}

func cursor(t *testing.T, env *Env) string {
	t.Helper()
	c, _, err := env.Cursors.Cursor(context.Background(), env.Cursor)
	if errors.Is(err, pipeline.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("cursor %s: %v", env.Cursor, err)
	}
	return c
}

// externalIDs returns the events' external ids, sorted.
func externalIDs(evs []pipeline.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ExternalID
	}
	slices.Sort(out)
	return out
}

// once fails unless evs hold exactly one event of each of ids and nothing
// else, each sealed and on the env's subject.
func once(t *testing.T, env *Env, what string, evs []pipeline.Event, ids []string) {
	t.Helper()
	want := slices.Sorted(slices.Values(ids))
	if got := externalIDs(evs); !slices.Equal(got, want) {
		t.Fatalf("%s: the bus got events of %v, want one of each of %v", what, got, want)
	}
	for _, ev := range evs {
		if ev.Subject() != env.Subject {
			t.Errorf("%s: event of %s on %s, want %s", what, ev.ExternalID, ev.Subject(), env.Subject)
		}
		sealed := ev
		sealed.ID = ""
		if err := sealed.Seal(); err != nil || ev.ID == "" || sealed.ID != ev.ID {
			t.Errorf("%s: event of %s has id %q, want the id Seal derives from its content (%q, %v)", what, ev.ExternalID, ev.ID, sealed.ID, err)
		}
	}
}

// testPublishes: new records at the vendor are published once each; a
// poll with nothing new publishes nothing; the cursor is saved.
func testPublishes(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	c := consumer(t, env)
	ids := env.Create(t, 3)
	p := env.Start(t, env.Bus)
	mustPoll(t, "first poll", p)
	once(t, env, "after the first poll", drain(t, c), ids)
	if cursor(t, env) == "" {
		t.Fatal("no cursor saved after a poll that published")
	}
	mustPoll(t, "poll with nothing new", p)
	if evs := drain(t, c); len(evs) != 0 {
		t.Fatalf("a poll with nothing new put %v on the bus", externalIDs(evs))
	}
}

// testUpdates: a record changed after it was published is published again,
// with a new event id, and only it.
func testUpdates(t *testing.T, f Factory) {
	f.Features.Updates.Require(t, "Updates")
	env := f.NewEnv(t)
	c := consumer(t, env)
	ids := env.Create(t, 3)
	p := env.Start(t, env.Bus)
	mustPoll(t, "first poll", p)
	first := drain(t, c)
	once(t, env, "after the first poll", first, ids)
	env.Change(t, ids[1])
	mustPoll(t, "poll after a change", p)
	evs := drain(t, c)
	once(t, env, "after the change", evs, ids[1:2])
	for _, ev := range first {
		if ev.ExternalID == ids[1] && ev.ID == evs[0].ID {
			t.Fatalf("the change of %s has the id of the record's first event (%s): the bus would drop it", ids[1], ev.ID)
		}
	}
}

// testCursorAfterAck: while every publish fails the cursor stays where it
// was; a poll cut short by a failing publish loses nothing: once the bus is
// back, every record is on it exactly once.
func testCursorAfterAck(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	c := consumer(t, env)
	old := env.Create(t, 2)
	mustPoll(t, "first poll", env.Start(t, env.Bus))
	once(t, env, "after the first poll", drain(t, c), old)
	before := cursor(t, env)

	ids := env.Create(t, 3)
	if err := poll(context.Background(), env.Start(t, &publisher{inner: env.Bus})); err == nil {
		t.Fatal("a poll whose every publish failed reported success")
	}
	if got := cursor(t, env); got != before {
		t.Fatalf("the cursor moved from %q to %q while the bus acknowledged nothing", before, got)
	}
	if evs := drain(t, c); len(evs) != 0 {
		t.Fatalf("the bus got %v while it was down", externalIDs(evs))
	}
	if err := poll(context.Background(), env.Start(t, &publisher{inner: env.Bus, left: 1})); err == nil {
		t.Fatal("a poll whose second publish failed reported success")
	}
	mustPoll(t, "poll once the bus is back", env.Start(t, env.Bus))
	once(t, env, "once the bus is back", drain(t, c), ids)
	if cursor(t, env) == before {
		t.Fatal("the cursor did not move after the bus acknowledged everything")
	}
}

// testRestart: a new process on the same state publishes nothing the bus
// already has (what it publishes again carries the same event ids), and
// then the records created since.
func testRestart(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	c := consumer(t, env)
	ids := env.Create(t, 3)
	mustPoll(t, "first process", env.Start(t, env.Bus))
	first := drain(t, c)
	once(t, env, "after the first process", first, ids)
	idOf := map[string]string{}
	for _, ev := range first {
		idOf[ev.ExternalID] = ev.ID
	}

	pub := &publisher{inner: env.Bus, left: -1}
	p := env.Start(t, pub)
	mustPoll(t, "the restarted process", p)
	if evs := drain(t, c); len(evs) != 0 {
		t.Fatalf("the restarted process put %v on the bus again", externalIDs(evs))
	}
	for _, ev := range pub.published() {
		if id, ok := idOf[ev.ExternalID]; ok && id != ev.ID {
			t.Fatalf("the restarted process published %s again with id %s, first %s", ev.ExternalID, ev.ID, id)
		}
	}
	more := env.Create(t, 1)
	mustPoll(t, "the restarted process, after a new record", p)
	once(t, env, "after a new record", drain(t, c), more)
}

// testCrash: a process dies right after the bus acknowledged its last
// publish, maybe before its cursor was saved; the next process publishes
// whatever it must again, with the same event ids, so the bus holds every
// record once.
func testCrash(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	c := consumer(t, env)
	ids := env.Create(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = poll(ctx, env.Start(t, &publisher{inner: env.Bus, left: -1, crash: len(ids), cancel: cancel}))
	mustPoll(t, "the process after the crash", env.Start(t, env.Bus))
	once(t, env, "after the crash and a restart", drain(t, c), ids)
}
