package pipeline_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// TestWholeRecordReportKeepsNewerEditsElsewhere: vendor a reports whole
// records (as LeadExec delivers the whole lead on every edit). A user
// edits the lead's color in b after a made it; a then changes only the
// city and reports its old color with it. The route into b writes the
// city and leaves b's newer color alone.
func TestWholeRecordReportKeepsNewerEditsElsewhere(t *testing.T) {
	bus, state := testenv.Bus(t), testenv.State(t)
	toB, toC := &memorySink{}, &memorySink{}
	var runners []*pipeline.Runner
	for _, r := range []pipeline.Route{copyRoute("a", "b", toB), copyRoute("b", "c", toC)} {
		r.Batch = pipeline.BatchPolicy{Linger: 20 * time.Millisecond}
		runners = append(runners, newRunner(t, r, bus, state))
	}
	runUntilCleanup(t, runners...)
	publish := reporter(t, bus, map[string]*pipeline.Runner{"a": runners[0], "b": runners[1]})
	report := func(vendor string, at time.Time, city, color string) {
		t.Helper()
		publish(vendor, at, map[string]string{"city": city, "color": color})
	}
	t0 := time.Now().Truncate(time.Second)
	report("a", t0, "Austin", "teal")
	// b holds what crmsync wrote; then a user there changes the color.
	report("b", t0.Add(time.Second), "Austin", "teal")
	report("b", t0.Add(2*time.Second), "Austin", "red")
	// a changes the city and reports its color, unchanged since t0.
	before := toB.count()
	report("a", t0.Add(4*time.Second), "Boston", "teal")
	if toB.count() != before+1 {
		t.Fatalf("writes to b: %d, want %d", toB.count(), before+1)
	}
	last := toB.writes[len(toB.writes)-1]
	if last["city"] != "Boston" {
		t.Fatalf("the city change was not written: %v", last)
	}
	if c, ok := last["color"]; ok {
		t.Fatalf("a's unchanged color %q overwrote b's newer edit: %v", c, last)
	}
	// A real change of a's color, later than b's edit, is written.
	report("a", t0.Add(6*time.Second), "Boston", "blue")
	if last := toB.writes[len(toB.writes)-1]; last["color"] != "blue" {
		t.Fatalf("a's newer color was not written: %v", last)
	}
}

// nameMapper maps vendor a's first and last name into vendor b's one name
// field (as Getlead has), copying the other fields.
type nameMapper struct{}

func (nameMapper) Map(ev pipeline.Event) (pipeline.Mapped, error) {
	mp, err := copyMapper{"a", "b"}.Map(ev)
	if err != nil {
		return mp, err
	}
	first, hasFirst := mp.Fields["first"]
	last, hasLast := mp.Fields["last"]
	delete(mp.Fields, "first")
	delete(mp.Fields, "last")
	if hasFirst || hasLast {
		mp.Fields["name"] = strings.TrimSpace(first + " " + last)
	}
	return mp, nil
}

// TestCompositeFieldIsNeverTruncated: a's last name is the one b gave it
// (crmsync's own write, left out of a's report as an echo); a's new first
// name goes to b with that last name, not alone.
func TestCompositeFieldIsNeverTruncated(t *testing.T) {
	bus, state := testenv.Bus(t), testenv.State(t)
	toB, toA := &memorySink{}, &memorySink{}
	ab := copyRoute("a", "b", toB)
	ab.Mapper = nameMapper{}
	ba := copyRoute("b", "a", toA)
	var runners []*pipeline.Runner
	for _, r := range []pipeline.Route{ab, ba} {
		r.Batch, r.Reverse = pipeline.BatchPolicy{Linger: 20 * time.Millisecond}, true
		runners = append(runners, newRunner(t, r, bus, state))
	}
	runUntilCleanup(t, runners...)
	report := reporter(t, bus, map[string]*pipeline.Runner{"a": runners[0], "b": runners[1]})
	t0 := time.Now().Truncate(time.Second)
	// b's last name reaches a.
	report("b", t0, map[string]string{"last": "Lee"})
	if toA.count() != 1 || toA.writes[0]["last"] != "Lee" {
		t.Fatalf("writes to a: %v", toA.writes)
	}
	// a reports a new first name with that last name.
	report("a", t0.Add(2*time.Second), map[string]string{"first": "Ann", "last": "Lee"})
	for _, w := range toB.writes {
		if n, ok := w["name"]; ok && n != "Ann Lee" {
			t.Fatalf("b's name written as %q, want %q: %v", n, "Ann Lee", toB.writes)
		}
	}
	if n := toB.count(); n == 0 || toB.writes[n-1]["name"] != "Ann Lee" {
		t.Fatalf("the new first name did not reach b: %v", toB.writes)
	}
}

// nameFrom maps vendor from's first and last name into one name field,
// as nameMapper does for a.
type nameFrom struct{ from string }

func (m nameFrom) Map(ev pipeline.Event) (pipeline.Mapped, error) {
	mp, err := copyMapper{m.from, "c"}.Map(ev)
	if err != nil {
		return mp, err
	}
	first, last := mp.Fields["first"], mp.Fields["last"]
	delete(mp.Fields, "first")
	delete(mp.Fields, "last")
	mp.Fields["name"] = strings.TrimSpace(first + " " + last)
	return mp, nil
}

// TestACompositeOfUnchangedPartsDoesNotCarryAPartThatIsBehind: a takes no
// update (as LeadExec takes none), so a's first name stays behind b's
// newer one. c's name is made of first and last name and holds b's "Bo
// Kim". When a later reports its whole record for a change of another
// field, its name "Ann Kim" is made only of unchanged parts, dated by its
// newest (the last name, as new as c's name), and must not overwrite
// c's name with a's old first name.
func TestACompositeOfUnchangedPartsDoesNotCarryAPartThatIsBehind(t *testing.T) {
	state := testenv.State(t)
	toC, toB, toA := &memorySink{}, &memorySink{}, &skipSink{}
	// crmsync handles each change a moment after it is made.
	var clock time.Time
	route := func(from, to string, mapper pipeline.Mapper, sink pipeline.Sink, reverse bool) *pipeline.Runner {
		r := copyRoute(from, to, sink)
		r.Mapper, r.Reverse, r.Now = mapper, reverse, func() time.Time { return clock }
		return newRunner(t, r, nil, state)
	}
	ac := route("a", "c", nameFrom{"a"}, toC, false)
	bc := route("b", "c", nameFrom{"b"}, toC, false)
	ab := route("a", "b", copyMapper{"a", "b"}, toB, true)
	ba := route("b", "a", copyMapper{"b", "a"}, toA, true)
	ctx := context.Background()
	apply := func(at time.Time, vendor string, f map[string]string, routes ...*pipeline.Runner) {
		t.Helper()
		f["key"] = "k"
		clock = at.Add(300 * time.Millisecond)
		ev := pipeline.Event{Vendor: vendor, Entity: "lead", ExternalID: vendor + "1", Fields: f, ChangedAt: at, Version: at.String()}
		if err := ev.Seal(); err != nil {
			t.Fatal(err)
		}
		for _, ru := range routes {
			if _, err := ru.Apply(ctx, []pipeline.Event{ev}); err != nil {
				t.Fatal(err)
			}
		}
	}
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	apply(t0.Add(100*time.Millisecond), "a", map[string]string{"first": "Ann", "last": "Lee"}, ac, ab)
	// A user changes the first name in b; a cannot take it.
	apply(t0.Add(2*time.Second), "b", map[string]string{"first": "Bo", "last": "Lee"}, ba, bc)
	if toA.calls != 1 {
		t.Fatalf("a was not offered b's first name (%d calls)", toA.calls)
	}
	// a changes the last name; b takes it and reports it within the same
	// second (b stamps to the second).
	apply(t0.Add(4400*time.Millisecond), "a", map[string]string{"first": "Ann", "last": "Kim"}, ac, ab)
	apply(t0.Add(4*time.Second), "b", map[string]string{"first": "Bo", "last": "Kim"}, ba, bc)
	name := func() string {
		for i := len(toC.writes) - 1; i >= 0; i-- {
			if n, ok := toC.writes[i]["name"]; ok {
				return n
			}
		}
		return ""
	}
	if got := name(); got != "Bo Kim" {
		t.Fatalf("c's name %q, want %q: %v", got, "Bo Kim", toC.writes)
	}
	// a reports its whole record for a change of its city.
	apply(t0.Add(8200*time.Millisecond), "a", map[string]string{"first": "Ann", "last": "Kim", "city": "Austin"}, ac)
	if got := name(); got != "Bo Kim" {
		t.Fatalf("a's old first name reached c: its name is %q, want %q: %v", got, "Bo Kim", toC.writes)
	}
	if last := toC.writes[len(toC.writes)-1]; last["city"] != "Austin" {
		t.Fatalf("a's city change was not written: %v", last)
	}
}

// reportingSink writes into b and, before its write settles, has b's
// poller report the record: what a vendor that is polled often shows.
type reportingSink struct {
	memorySink
	report func()
}

func (s *reportingSink) Write(ctx context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	out := s.memorySink.Write(ctx, recs)
	s.report()
	return out
}

// TestACompositeWithAPartJustWrittenIsWritten: crmsync writes a's new last
// name into b, and b reports it before the write settles. b's name for c,
// made of its first name and that last name, carries crmsync's own write,
// not a part that is behind: it is written.
func TestACompositeWithAPartJustWrittenIsWritten(t *testing.T) {
	state := testenv.State(t)
	toC := &memorySink{}
	var clock time.Time
	var bc *pipeline.Runner
	ctx := context.Background()
	event := func(vendor string, at time.Time, f map[string]string) pipeline.Event {
		t.Helper()
		f["key"] = "k"
		ev := pipeline.Event{Vendor: vendor, Entity: "lead", ExternalID: vendor + "1", Fields: f, ChangedAt: at, Version: at.String()}
		if err := ev.Seal(); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	toB := &reportingSink{report: func() {
		if _, err := bc.Apply(ctx, []pipeline.Event{event("b", t0.Add(3*time.Second), map[string]string{"first": "Ann", "last": "Kim"})}); err != nil {
			t.Error(err)
		}
	}}
	route := func(from, to string, mapper pipeline.Mapper, sink pipeline.Sink) *pipeline.Runner {
		r := copyRoute(from, to, sink)
		r.Mapper, r.Reverse, r.Now = mapper, true, func() time.Time { return clock }
		return newRunner(t, r, nil, state)
	}
	bc = route("b", "c", nameFrom{"b"}, toC)
	ab := route("a", "b", copyMapper{"a", "b"}, toB)
	clock = t0.Add(300 * time.Millisecond)
	if _, err := bc.Apply(ctx, []pipeline.Event{event("b", t0, map[string]string{"first": "Ann", "last": "Lee"})}); err != nil {
		t.Fatal(err)
	}
	clock = t0.Add(2300 * time.Millisecond)
	if _, err := ab.Apply(ctx, []pipeline.Event{event("a", t0.Add(2*time.Second), map[string]string{"last": "Kim"})}); err != nil {
		t.Fatal(err)
	}
	if n := len(toC.writes); n != 2 || toC.writes[1]["name"] != "Ann Kim" {
		t.Fatalf("c's name did not take the last name crmsync wrote into b: %v", toC.writes)
	}
}
