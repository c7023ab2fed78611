package sharpspring

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// unreadableRoute is a route from vendor "a" to SharpSpring leads over the
// real sink and simulator, retrying at once.
func unreadableRoute(t *testing.T) (*pipeline.Runner, *sharpspringsim.Server, pipeline.State) {
	t.Helper()
	s, sim := newSink(t, sharpspringsim.Options{})
	bus, state := testenv.Bus(t), testenv.State(t)
	ru, err := pipeline.NewRunner(pipeline.Route{Name: "a-sharpspring", From: "a.lead",
		To: pipeline.Target{Vendor: "sharpspring", Entity: "lead"}, Mapper: emailMapper{}, Sink: s,
		NewBackOff: func() backoff.BackOff { return &backoff.ZeroBackOff{} }}, bus, state)
	if err != nil {
		t.Fatal(err)
	}
	return ru, sim, state
}

func leadEvent(t *testing.T, version string, fields map[string]string) pipeline.Event {
	t.Helper()
	ev := pipeline.Event{Vendor: "a", Entity: "lead", ExternalID: "1", Version: version, ChangedAt: time.Now(), Fields: fields}
	if err := ev.Seal(); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestAnUpdateAnsweredUnreadablyIsSettledByReadingItBack: SharpSpring
// applies an update and answers it with cut-off JSON. The route reads the
// lead back, finds the values it sent, and settles the write without
// sending it again.
func TestAnUpdateAnsweredUnreadablyIsSettledByReadingItBack(t *testing.T) {
	ru, sim, _ := unreadableRoute(t)
	ctx := context.Background()
	if _, err := ru.Apply(ctx, []pipeline.Event{leadEvent(t, "1", map[string]string{"emailAddress": "ann@example.com", "city": "Austin"})}); err != nil {
		t.Fatal(err)
	}
	sim.Script("updateLeadsV2", sharpspringsim.FaultMalformedAfterCommit)
	res, err := ru.Apply(ctx, []pipeline.Event{leadEvent(t, "2", map[string]string{"emailAddress": "ann@example.com", "city": "Boston"})})
	if err != nil || res.Written != 1 || len(res.DeadLettered) != 0 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if n := sim.Stats().ByMethod["updateLeadsV2"]; n != 1 {
		t.Fatalf("updateLeadsV2 sent %d times, want 1: the applied update was sent again", n)
	}
	if n := ru.Stats.ReadBacks.Load(); n != 1 {
		t.Fatalf("records read back: %d, want 1", n)
	}
	if l, _ := sim.LeadByEmail("ann@example.com"); l.Fields["city"] == nil || *l.Fields["city"] != "Boston" {
		t.Fatalf("city %v", l.Fields["city"])
	}
}

// TestAWriteAnsweredUnreadablyEveryTimeIsDeadLettered: SharpSpring answers
// every create of a lead with an HTML page and applies none. The route
// reads the lead back after each answer, finds it missing, and after five
// such answers dead-letters it with the answer, instead of posting it
// forever.
func TestAWriteAnsweredUnreadablyEveryTimeIsDeadLettered(t *testing.T) {
	ru, sim, state := unreadableRoute(t)
	ctx := context.Background()
	for range 10 {
		sim.Script("createLeads", sharpspringsim.FaultMalformedHTML)
	}
	res, err := ru.Apply(ctx, []pipeline.Event{leadEvent(t, "1", map[string]string{"emailAddress": "bob@example.com", "city": "Austin"})})
	if err != nil || res.Written != 0 || len(res.DeadLettered) != 1 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if n := sim.Stats().ByMethod["createLeads"]; n != 5 {
		t.Fatalf("createLeads sent %d times, want 5", n)
	}
	dls, err := state.DeadLetters(ctx, pipeline.DeadLetterFilter{})
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters %v, %v", dls, err)
	}
	if d := dls[0]; d.Code != pipeline.CodeUnreadableAnswer || !strings.Contains(d.Message, "malformed response") {
		t.Fatalf("dead letter %s: %s", d.Code, d.Message)
	}
	if _, ok := sim.LeadByEmail("bob@example.com"); ok {
		t.Fatal("the simulator holds the lead it never applied")
	}
}
