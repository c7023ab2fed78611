package pipeline_test

import (
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// TestEmptyValueReportedBackIsNotWritten: a vendor that reports a field
// without a value as "" (iVvy's description) does not make crmsync write
// that "" into the other vendor, neither when it reports crmsync's own write
// back nor when it reports a record first; a user who empties a field that
// held a value still clears it in the other vendor.
func TestEmptyValueReportedBackIsNotWritten(t *testing.T) {
	bus := testenv.Bus(t)
	ab, ba, toB, _ := runTwoWay(t, bus, testenv.State(t))
	publish := func(vendor, id string, at time.Time, f map[string]string) {
		t.Helper()
		publishLead(t, bus, vendor, id, at, f)
	}
	settled := func(r *pipeline.Runner, n int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for r.Stats.Settled.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d events settled, want %d", r.Name(), r.Stats.Settled.Load(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	last := func(s *memorySink) map[string]string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.writes[len(s.writes)-1]
	}
	t0 := time.Now().Truncate(time.Second)

	// B has a lead without a note; crmsync creates it in A. A's poller
	// reports it back with note "" (A's form of "no note"): nothing is
	// written to B.
	publish("b", "b1", t0, map[string]string{"key": "k", "city": "Austin"})
	settled(ba, 1)
	publish("a", "1", t0.Add(time.Second), map[string]string{"key": "k", "city": "Austin", "note": ""})
	settled(ab, 1)
	if toB.count() != 0 {
		t.Fatalf("a reported-back empty value was written to B: %v", toB.writes)
	}
	// A lead first seen in A, with an empty note: B gets its values, not
	// the empty note.
	publish("a", "2", t0.Add(time.Second), map[string]string{"key": "k2", "city": "Boston", "note": ""})
	settled(ab, 2)
	if w := last(toB); w["city"] != "Boston" || hasField(w, "note") {
		t.Fatalf("first report of a lead: wrote %v, want its city and no note", w)
	}

	// A user writes a note in A, then empties it: the clear reaches B.
	publish("a", "1", t0.Add(2*time.Second), map[string]string{"key": "k", "city": "Austin", "note": "call back"})
	settled(ab, 3)
	if w := last(toB); w["note"] != "call back" {
		t.Fatalf("note not written: %v", w)
	}
	publish("a", "1", t0.Add(3*time.Second), map[string]string{"key": "k", "city": "Austin", "note": ""})
	settled(ab, 4)
	if w := last(toB); !hasField(w, "note") || w["note"] != "" || toB.count() != 3 {
		t.Fatalf("a user's clear was not written: %v (%d writes)", w, toB.count())
	}
	// Reported again, the empty note writes nothing.
	publish("a", "1", t0.Add(4*time.Second), map[string]string{"key": "k", "city": "Austin", "note": ""})
	settled(ab, 5)
	if toB.count() != 3 {
		t.Fatalf("an unchanged empty value was written again: %v", toB.writes[3:])
	}

	// A note crmsync wrote into A (from B) and a user then empties in A:
	// the clear goes back to B.
	publish("b", "b1", t0.Add(5*time.Second), map[string]string{"key": "k", "city": "Austin", "note": "from B"})
	settled(ba, 2)
	publish("a", "1", t0.Add(6*time.Second), map[string]string{"key": "k", "city": "Austin", "note": ""})
	settled(ab, 6)
	if w := last(toB); !hasField(w, "note") || w["note"] != "" {
		t.Fatalf("a user's clear of a value crmsync wrote was not written: %v", w)
	}
}

func hasField(f map[string]string, k string) bool { _, ok := f[k]; return ok }
