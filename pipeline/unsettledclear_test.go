package pipeline_test

import (
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
)

// TestAClearAfterAnUnsettledWriteOfTheValueIsWritten: crmsync writes a's
// new lead, budget and all, into b, and the process stops before the write
// settles; b's poller reports the lead with the write. Another route from
// a then settles a's edit that emptied the
// budget before it ever saw the creation: the ledger of a, which the
// routes share, takes the empty budget for a's "no value". When the
// restarted route into b gets the edit from the bus (alone, or after the
// creation, which is older than what a's ledger holds now and dropped),
// the budget it wrote from a tells that a held one: the edit's empty
// budget is a clear, and b gets it.
func TestAClearAfterAnUnsettledWriteOfTheValueIsWritten(t *testing.T) {
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	created, edited := t0.Add(253*time.Millisecond), t0.Add(1921*time.Millisecond)
	creation := map[string]string{"key": "k", "city": "Austin", "budget": "43500"}
	edit := map[string]string{"key": "k", "city": "Austin", "budget": ""}
	for _, withCreation := range []bool{false, true} {
		name := "edit alone"
		if withCreation {
			name = "creation, then edit"
		}
		t.Run(name, func(t *testing.T) {
			bus, state := testenv.Bus(t), testenv.State(t)
			b := &targetSink{}
			landThenStop(t, bus, state, b, leadEvent(t, "a", created, creation))
			k := canonicalK()
			if got := b.record(k)["budget"]; got != "43500" {
				t.Fatalf("the first write did not land: budget %q", got)
			}
			// b's poller reports the lead with crmsync's write: the route
			// from b dates b's budget from the change the write carries.
			bd := runRoute(t, copyRoute("b", "d", &memorySink{}), bus, state)
			publishLead(t, bus, "b", "1", t0.Add(5*time.Second), creation)
			testenv.Eventually(t, "b-d to settle b's report", func() bool { return bd.Stats.Settled.Load() >= 1 })
			ac := runRoute(t, copyRoute("a", "c", &memorySink{}), bus, state)
			publishLead(t, bus, "a", "1", edited, edit)
			testenv.Eventually(t, "a-c to settle the edit", func() bool { return ac.Stats.Settled.Load() >= 1 })

			want := int64(1)
			if withCreation {
				publishLead(t, bus, "a", "1", created, creation)
				want = 2
			}
			route := copyRoute("a", "b", b)
			route.Reverse = true
			ab := runRoute(t, route, bus, state)
			testenv.Eventually(t, "a-b to settle a's events", func() bool { return ab.Stats.Settled.Load() >= want })
			if got := b.record(k); got["budget"] != "" {
				t.Fatalf("a's clear of the budget crmsync wrote into b from a was left out as a value never set: b holds %v", got)
			}
		})
	}
}
