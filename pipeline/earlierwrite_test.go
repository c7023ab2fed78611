package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// TestAnEarlierWriteReadBackIsNoEditAtTheTarget: crmsync writes a's lead
// into b, city Austin, and stops before settling; the write landed. The
// restarted route (on a target it cannot read back) writes a's edit, city
// Boston, and stops again before that write lands. Read back by the next
// restart, b shows Austin: crmsync's own earlier write, not a user's edit
// made after its latest write landed. Boston is written.
func TestAnEarlierWriteReadBackIsNoEditAtTheTarget(t *testing.T) {
	bus, state := testenv.Bus(t), testenv.State(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	create := leadEvent(t, "a", t0.Add(100*time.Millisecond), map[string]string{"key": "k", "city": "Austin"})
	edit := leadEvent(t, "a", t0.Add(2*time.Second), map[string]string{"key": "k", "city": "Boston"})

	b := &targetSink{}
	killed, kill := context.WithCancel(ctx)
	if _, err := newRunner(t, copyRoute("a", "b", landedThenKilled{b, kill}), bus, state).Apply(killed, []pipeline.Event{create}); err == nil {
		t.Fatal("the write whose process stopped was settled")
	}
	loseWrite(t, bus, state, create, edit)
	k := canonicalK()
	if got := b.record(k)["city"]; got != "Austin" {
		t.Fatalf("b holds city %q; want the first write's Austin", got)
	}

	ru := newRunner(t, copyRoute("a", "b", b), bus, state)
	if _, err := ru.Apply(ctx, []pipeline.Event{create, edit}); err != nil {
		t.Fatal(err)
	}
	if n := ru.Stats.ReadBacks.Load(); n != 1 {
		t.Fatalf("records read back: %d, want 1", n)
	}
	if got := b.record(k)["city"]; got != "Boston" {
		t.Fatalf("crmsync's earlier write read back was taken for a user's edit: b keeps city %q, want a's Boston", got)
	}
}
