// Package sourcetest is the conformance suite of pipeline.Source pollers,
// in the manner of bustest and sinktest: every vendor poller runs
// Run(t, Factory) against its simulator over real HTTP, publishing to a
// real bus and keeping its cursor in a real state, so that the delivery
// rules of a source hold whatever the vendor:
//
//   - a poll publishes what changed at the vendor, once, as sealed events
//     whose ids derive from the change (pipeline.Event.Seal);
//   - the cursor moves only after the bus acknowledged the publishes: a
//     poll whose publishes fail leaves the cursor where it was, and nothing
//     is lost once the bus is back;
//   - a new process on the same state resumes from the cursor and puts
//     nothing on the bus that was already there: what it publishes again
//     (after a crash between publish and cursor) carries the same event id,
//     so the bus drops it.
//
// A poller that cannot give one of the optional guarantees says so in
// Features, with the reason; the tests that need it are skipped and print
// the reason.
//
// RenderCursors and CheckCursorsDecode keep what a poller stores as its
// cursor in a golden file, so that an upgraded poller resumes from every
// shape an older one saved.
package sourcetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/crmsync/crmsync/internal/conformance"
	"github.com/crmsync/crmsync/pipeline"
)

// Flag is one optional guarantee of the suite (see conformance.Flag): the
// zero Flag claims it, Without gives it up and says why.
type Flag = conformance.Flag

// Without is a Flag the poller does not meet, for the given reason (which
// must not be empty).
func Without(reason string) Flag { return conformance.Without("sourcetest", reason) }

// Features are the optional guarantees of a poller. Every field's zero
// value claims the guarantee.
type Features struct {
	// Updates: a change to a record the poller already published is
	// published too (not only new records), with a new event id.
	Updates Flag
}

// Bus is what the suite needs of the bus: the poller publishes to it, the
// suite reads what arrived.
type Bus interface {
	pipeline.Publisher
	pipeline.ConsumerSource
}

// Poll runs one poll of a source process: it reads what changed since the
// cursor, publishes it, saves the cursor and returns. It returns an error
// when a publish failed.
type Poll func(ctx context.Context) error

// Env is one vendor (a simulator), one bus and one state, for one test.
type Env struct {
	// Bus is where the poller's events go; Start wraps it for the poller.
	Bus Bus
	// Cursors is the state the poller keeps its cursor in, and Cursor the
	// name it is kept under.
	Cursors pipeline.Cursors
	Cursor  string
	// Subject is the bus subject of the poller's events.
	Subject string
	// Start starts a new process of the poller on the same vendor and
	// state, publishing through pub, and returns its Poll. Every call is a
	// restart: nothing is shared with earlier processes but the state.
	Start func(t *testing.T, pub pipeline.Publisher) Poll
	// Create adds n new records at the vendor, where the next poll sees
	// them, and returns their external ids (Event.ExternalID).
	Create func(t *testing.T, n int) []string
	// Change edits records at the vendor, where the next poll sees it.
	// Needed by Features.Updates.
	Change func(t *testing.T, ids ...string)
}

// Factory makes a fresh Env for each test.
type Factory struct {
	Features Features
	NewEnv   func(t *testing.T) *Env
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, f Factory) {
	if !f.Features.Updates.Claimed() {
		t.Logf("without Updates: %s", f.Features.Updates.Reason())
	}
	conformance.Run(t, f, []conformance.Test[Factory]{
		{Name: "PublishesWhatChangedOnce", Run: testPublishes},
		{Name: "PublishesChangesOfKnownRecords", Run: testUpdates},
		{Name: "TheCursorWaitsForTheBus", Run: testCursorAfterAck},
		{Name: "ARestartResumesFromTheCursor", Run: testRestart},
		{Name: "ARestartAfterACrashRepublishesTheSameEventIDs", Run: testCrash},
	})
}

// PollOf is the Poll of a poller whose Poll also returns a result, which
// the suite does not read: poll is that method, err what making the poller
// returned, failing the test when set.
func PollOf[R any](t *testing.T, poll func(context.Context) (R, error), err error) Poll {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context) error {
		_, err := poll(ctx)
		return err
	}
}

// Seeded is an Env.Create that adds the records one at a time: seed adds
// record number n at the vendor, n counting 1, 2, 3, … across every call
// of the Create, and returns its external id (an id the vendor numbers is
// formatted in decimal).
func Seeded[ID ~string | ~int64](seed func(n int) ID) func(t *testing.T, k int) []string {
	n := 0
	return func(_ *testing.T, k int) []string {
		var ids []string
		for range k {
			n++
			ids = append(ids, fmt.Sprint(seed(n)))
		}
		return ids
	}
}
