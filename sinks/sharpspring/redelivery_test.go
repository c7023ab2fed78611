package sharpspring

import (
	"context"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sinktest"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// emailMapper maps a vendor "a" lead into SharpSpring fields one to one,
// addressed by its emailAddress.
type emailMapper struct{}

func (emailMapper) Map(ev pipeline.Event) (pipeline.Mapped, error) {
	fields := map[string]string{}
	for k, v := range ev.Fields {
		fields[k] = v
	}
	email := ev.Fields["emailAddress"]
	return pipeline.Mapped{
		Keys:        []pipeline.Key{{Vendor: "a", Entity: "lead", Kind: pipeline.KindID, Value: ev.ExternalID}},
		Fields:      fields,
		NaturalKeys: map[string]string{"emailAddress": email},
	}, nil
}

// stoppedAfterWrite writes through to SharpSpring, then the process stops
// before the route hears the answer.
type stoppedAfterWrite struct {
	sink *LeadSink
	stop context.CancelFunc
}

func (s stoppedAfterWrite) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	s.sink.Write(ctx, recs)
	s.stop()
	return sinktest.Unanswered(len(recs))
}

// TestAUserEditMadeBeforeTheRedeliveryIsKept: crmsync creates a lead in
// SharpSpring and stops before settling the write; a user then changes
// its city in SharpSpring. The restarted route, given the same event
// again, reads the lead back through the sink and leaves the city alone.
func TestAUserEditMadeBeforeTheRedeliveryIsKept(t *testing.T) {
	s, sim := newSink(t, sharpspringsim.Options{})
	bus, state := testenv.Bus(t), testenv.State(t)
	ctx := context.Background()
	ev := pipeline.Event{Vendor: "a", Entity: "lead", ExternalID: "1", ChangedAt: time.Now().Add(-time.Minute),
		Fields: map[string]string{"emailAddress": "ann@example.com", "firstName": "Ann", "city": "Austin"}}
	if err := ev.Seal(); err != nil {
		t.Fatal(err)
	}
	route := func(sink pipeline.Sink) *pipeline.Runner {
		ru, err := pipeline.NewRunner(pipeline.Route{Name: "a-sharpspring", From: "a.lead",
			To: pipeline.Target{Vendor: "sharpspring", Entity: "lead"}, Mapper: emailMapper{}, Sink: sink, Reverse: true}, bus, state)
		if err != nil {
			t.Fatal(err)
		}
		return ru
	}
	killed, stop := context.WithCancel(ctx)
	if _, err := route(stoppedAfterWrite{s, stop}).Apply(killed, []pipeline.Event{ev}); err == nil {
		t.Fatal("the write whose process stopped was settled")
	}
	l, ok := sim.LeadByEmail("ann@example.com")
	if !ok {
		t.Fatal("the first write did not land")
	}
	if !sim.EditLead(l.ID, map[string]string{"city": "Boston"}) {
		t.Fatal("the user could not edit the lead")
	}
	ru := route(s)
	if _, err := ru.Apply(ctx, []pipeline.Event{ev}); err != nil {
		t.Fatal(err)
	}
	l, _ = sim.LeadByEmail("ann@example.com")
	if got := l.Fields["city"]; got == nil || *got != "Boston" {
		city := "<null>"
		if got != nil {
			city = *got
		}
		t.Fatalf("the user's city was overwritten: %q", city)
	}
	if n := ru.Stats.ReadBacks.Load(); n != 1 {
		t.Fatalf("records read back: %d, want 1", n)
	}
}
