// Package sinktest is the conformance suite of pipeline.Sink, in the manner
// of bustest and Watermill's pubsub tests: every vendor sink runs
// Run(t, Factory) against its simulator over real HTTP (or a real broker),
// so the route can rely on the contract written on pipeline.Sink whatever
// the target.
//
// The suite checks, per sink:
//
//   - a batch of new records is written, one outcome per record in order,
//     and reads back equal through pipeline.TargetReader;
//   - one bad record fails alone, as permanent (pipeline.ErrPermanent) with
//     the vendor's code, leaving nothing at the target, while the rest of
//     its batch is written once;
//   - a vendor failure (server errors, applying nothing) comes back as a
//     transient error for every record, and writing the same records again
//     writes each of them once;
//   - writing records again, with or without the target ids their first
//     write returned, adds nothing to the target (safe rewrite), also after
//     a write whose answer was lost once the vendor had applied it.
//
// A sink that cannot give one of these says so in Features, with the
// reason; the tests that need it are skipped and print the reason.
//
// CheckClass pins, one vendor error at a time, what a sink's error
// mapping makes of it: a dead letter, a wait, a quota pause or a retry.
//
//	func TestConformance(t *testing.T) {
//		sinktest.Run(t, sinktest.Factory{
//			Features: sinktest.Features{ReadBack: sinktest.Without("the API cannot read leads")},
//			NewEnv:   func(t *testing.T) *sinktest.Env { … simulator, sink, records … },
//		})
//	}
package sinktest

import (
	"testing"

	"github.com/crmsync/crmsync/internal/conformance"
	"github.com/crmsync/crmsync/pipeline"
)

// Flag is one optional guarantee of the suite (see conformance.Flag): the
// zero Flag claims it, Without gives it up and says why.
type Flag = conformance.Flag

// Without is a Flag the sink does not meet, for the given reason (which
// must not be empty).
func Without(reason string) Flag { return conformance.Without("sinktest", reason) }

// Features are the guarantees of a sink beyond the ones every sink gives
// (one outcome per record in order, a bad record failing alone, transient
// vendor failures). Every field's zero value claims the guarantee.
type Features struct {
	// ReadBack: the sink is a pipeline.TargetReader, and Read returns what
	// Write wrote, addressed by the TargetID of the write's outcome and,
	// before that id is known, by the record's key or natural keys.
	ReadBack Flag
	// TargetIDs: the outcome of every record written carries the target's
	// id of the record.
	TargetIDs Flag
	// Rewrite: writing records again, without the target ids their first
	// write returned (a crash before the state stored them) or with them,
	// succeeds and adds no record to the target.
	Rewrite Flag
	// RefusedLeavesNothing: a record refused for good leaves nothing at the
	// target, so its dead letter is all there is of it. Without it, the
	// suite only requires that the target holds no more than the records
	// of the batch.
	RefusedLeavesNothing Flag
	// LostAnswer: a write whose answer was lost after the vendor applied
	// it (Env.LoseAnswer) fails transiently, and writing the records again
	// adds no record to the target. It needs Rewrite.
	LostAnswer Flag
}

// Env is one sink on an empty target, for one test.
type Env struct {
	// Sink is the sink under test.
	Sink pipeline.Sink
	// Record returns record number i: valid, new to the target, different
	// for every i, its Fields in the values the target keeps (so that
	// reading it back gives them unchanged).
	Record func(i int) *pipeline.Record
	// Bad returns record number i that the target refuses for good, such as
	// a value the vendor rejects.
	Bad func(i int) *pipeline.Record
	// Held counts the records the target holds, read from the target
	// itself (the simulator's store, the topic), not through the sink.
	Held func(t *testing.T) int
	// Outage makes every request to the target fail without applying
	// anything (HTTP 5xx, a refused produce) until end is called.
	Outage func(t *testing.T) (end func())
	// LoseAnswer makes the target apply the next write request and then
	// drop the connection without an answer. Needed by Features.LostAnswer.
	LoseAnswer func(t *testing.T)
}

// Factory makes a fresh Env for each test.
type Factory struct {
	Features Features
	NewEnv   func(t *testing.T) *Env
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, f Factory) {
	for _, off := range []struct {
		name string
		flag Flag
	}{
		{"ReadBack", f.Features.ReadBack}, {"TargetIDs", f.Features.TargetIDs}, {"Rewrite", f.Features.Rewrite},
		{"RefusedLeavesNothing", f.Features.RefusedLeavesNothing}, {"LostAnswer", f.Features.LostAnswer},
	} {
		if !off.flag.Claimed() {
			t.Logf("without %s: %s", off.name, off.flag.Reason())
		}
	}
	conformance.Run(t, f, []conformance.Test[Factory]{
		{Name: "NewRecordsAreWrittenAndReadBack", Run: testWriteReadBack},
		{Name: "OutcomesAreOnePerRecordInOrder", Run: testOutcomeOrder},
		{Name: "ABadRecordFailsAloneAsPermanent", Run: testPartialSuccess},
		{Name: "AVendorFailureIsTransientAndTheRetryWritesOnce", Run: testTransient},
		{Name: "WritingTheSameRecordsAgainAddsNothing", Run: testRewrite},
		{Name: "ALostAnswerIsTransientAndTheRetryAddsNothing", Run: testLostAnswer},
	})
}
