package sinktest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// writeTimeout bounds one Write of the suite.
const writeTimeout = time.Minute

// records returns Record(from) … Record(from+n-1).
func records(env *Env, from, n int) []*pipeline.Record {
	recs := make([]*pipeline.Record, n)
	for i := range recs {
		recs[i] = env.Record(from + i)
	}
	return recs
}

// write writes recs and checks that there is one outcome per record.
func write(t *testing.T, env *Env, recs []*pipeline.Record) []pipeline.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	out := env.Sink.Write(ctx, recs)
	if len(out) != len(recs) {
		t.Fatalf("Write returned %d outcomes for %d records", len(out), len(recs))
	}
	return out
}

// written fails unless every outcome is a success; with TargetIDs it also
// requires the target's id of every record.
func written(t *testing.T, f Factory, what string, out []pipeline.Outcome) {
	t.Helper()
	for i, o := range out {
		if o.Err != nil {
			t.Fatalf("%s: record %d: %v", what, i, o.Err)
		}
		if f.Features.TargetIDs.Claimed() && o.TargetID == "" && o.Skip == "" {
			t.Fatalf("%s: record %d was written but its outcome has no target id", what, i)
		}
	}
}

// permanent fails unless err is a permanent failure with the vendor's code.
func permanent(t *testing.T, what string, err error) {
	t.Helper()
	var pe *pipeline.PermanentError
	switch {
	case err == nil:
		t.Fatalf("%s: written, want a permanent failure", what)
	case !errors.Is(err, pipeline.ErrPermanent):
		t.Fatalf("%s: %v, want a permanent failure (pipeline.ErrPermanent)", what, err)
	case !errors.As(err, &pe) || pe.Code == "":
		t.Fatalf("%s: %v is permanent but carries no code (pipeline.Permanent(code, err))", what, err)
	}
}

// transient fails unless err is a failure the route retries: neither
// permanent nor a spent quota.
func transient(t *testing.T, what string, err error) {
	t.Helper()
	var q *pipeline.QuotaError
	switch {
	case err == nil:
		t.Fatalf("%s: written, want a transient failure", what)
	case errors.Is(err, pipeline.ErrPermanent):
		t.Fatalf("%s: %v is permanent: the record would be dead-lettered for the vendor's fault", what, err)
	case errors.As(err, &q):
		t.Fatalf("%s: %v is a quota error, want a transient failure", what, err)
	}
}

func held(t *testing.T, env *Env, want int, what string) {
	t.Helper()
	if n := env.Held(t); n != want {
		t.Fatalf("%s: the target holds %d records, want %d", what, n, want)
	}
}

// heldAfterRefusals checks the target after a batch whose good records
// are want and whose refused ones are refused: exactly want, or, without
// RefusedLeavesNothing, no fewer than want and no more than want+refused.
func heldAfterRefusals(t *testing.T, f Factory, env *Env, want, refused int, what string) {
	t.Helper()
	if f.Features.RefusedLeavesNothing.Claimed() {
		held(t, env, want, what)
		return
	}
	if n := env.Held(t); n < want || n > want+refused {
		t.Fatalf("%s: the target holds %d records, want %d written and at most %d refused ones in part", what, n, want, refused)
	}
}

// SameAsWritten fails t unless got, the fields a sink read back, holds
// every field of r with its value; a nil got (not found) stops the test.
// what names the read in the failure.
func SameAsWritten(t testing.TB, what string, r *pipeline.Record, got map[string]string) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: not found", what)
	}
	for f, v := range r.Fields {
		if got[f] != v {
			t.Errorf("%s: %s = %q, wrote %q", what, f, got[f], v)
		}
	}
}

// readBack reads recs through the sink, by the target ids of their outcomes
// and then by key and natural keys alone, and requires every written field
// back with its value. It does nothing unless ReadBack is claimed.
func readBack(t *testing.T, f Factory, env *Env, recs []*pipeline.Record, out []pipeline.Outcome) {
	t.Helper()
	if !f.Features.ReadBack.Claimed() {
		return
	}
	r, ok := env.Sink.(pipeline.TargetReader)
	if !ok {
		t.Fatalf("Features.ReadBack is claimed but the sink is not a pipeline.TargetReader")
	}
	for _, byID := range []bool{true, false} {
		addr := make([]*pipeline.Record, len(recs))
		for i, rec := range recs {
			c := *rec
			c.TargetID = ""
			if byID {
				c.TargetID = out[i].TargetID
			}
			addr[i] = &c
		}
		how := map[bool]string{true: "by target id", false: "by key"}[byID]
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		got, err := r.Read(ctx, addr)
		cancel()
		if err != nil {
			t.Fatalf("Read %s: %v", how, err)
		}
		if len(got) != len(recs) {
			t.Fatalf("Read %s returned %d values for %d records", how, len(got), len(recs))
		}
		for i, rec := range recs {
			SameAsWritten(t, fmt.Sprintf("Read %s: record %d (%s)", how, i, rec.Key), rec, got[i])
		}
	}
}

// testWriteReadBack writes a batch of new records: every one is written,
// the target holds each once, and reads back what was written.
func testWriteReadBack(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	before := env.Held(t)
	recs := records(env, 1, 5)
	out := write(t, env, recs)
	written(t, f, "new records", out)
	held(t, env, before+len(recs), "after writing new records")
	readBack(t, f, env, recs, out)
	if f.Features.ReadBack.Claimed() {
		// A record the target never held reads as nil.
		got, err := env.Sink.(pipeline.TargetReader).Read(context.Background(), []*pipeline.Record{env.Record(99)})
		if err != nil || len(got) != 1 || got[0] != nil {
			t.Fatalf("Read of a record never written = %v, %v; want one nil value", got, err)
		}
	}
}

// testOutcomeOrder: an empty batch has no outcomes; in a batch that mixes
// good and bad records, outcome i answers record i.
func testOutcomeOrder(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	if out := write(t, env, nil); len(out) != 0 {
		t.Fatalf("an empty batch got %d outcomes", len(out))
	}
	before := env.Held(t)
	recs := []*pipeline.Record{env.Bad(1), env.Record(2), env.Record(3), env.Bad(4), env.Record(5)}
	bad := map[int]bool{0: true, 3: true}
	out := write(t, env, recs)
	var good []*pipeline.Record
	var goodOut []pipeline.Outcome
	for i, o := range out {
		if bad[i] {
			permanent(t, "outcome of the bad record at "+strconv.Itoa(i), o.Err)
			continue
		}
		written(t, f, "outcome of the good record at "+strconv.Itoa(i), []pipeline.Outcome{o})
		good, goodOut = append(good, recs[i]), append(goodOut, o)
	}
	if f.Features.TargetIDs.Claimed() {
		seen := map[string]int{}
		for i, o := range goodOut {
			if j, dup := seen[o.TargetID]; dup {
				t.Fatalf("records %d and %d got the same target id %s", j, i, o.TargetID)
			}
			seen[o.TargetID] = i
		}
	}
	heldAfterRefusals(t, f, env, before+len(good), len(recs)-len(good), "after a mixed batch")
	// Read by the ids of the outcomes: outcome i belongs to record i.
	readBack(t, f, env, good, goodOut)
}

// testPartialSuccess: one bad record among good ones fails alone, as
// permanent with the vendor's code; the others are written, each once, so
// the route settles them and never sends them again.
func testPartialSuccess(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	before := env.Held(t)
	recs := []*pipeline.Record{env.Record(1), env.Record(2), env.Bad(3), env.Record(4), env.Record(5)}
	out := write(t, env, recs)
	permanent(t, "the bad record", out[2].Err)
	good := []*pipeline.Record{recs[0], recs[1], recs[3], recs[4]}
	goodOut := []pipeline.Outcome{out[0], out[1], out[3], out[4]}
	written(t, f, "the good records of the batch", goodOut)
	heldAfterRefusals(t, f, env, before+len(good), 1, "after a batch with one bad record")
	readBack(t, f, env, good, goodOut)
}

// testTransient: while the vendor fails every request, every record comes
// back with a transient error and nothing is applied; writing the same
// records again once it recovers writes each of them once.
func testTransient(t *testing.T, f Factory) {
	env := f.NewEnv(t)
	before := env.Held(t)
	recs := records(env, 1, 3)
	end := env.Outage(t)
	out := write(t, env, recs)
	end()
	for i, o := range out {
		transient(t, "record "+strconv.Itoa(i)+" during the outage", o.Err)
	}
	held(t, env, before, "after the outage")
	out = write(t, env, records(env, 1, 3))
	written(t, f, "the retry", out)
	held(t, env, before+len(recs), "after the retry")
	readBack(t, f, env, recs, out)
}

// testRewrite writes new records, then the same records again without the
// target ids (a crash before the state stored them) and with them (a
// redelivery): every write succeeds, the target ids stay, and the target
// holds each record once.
func testRewrite(t *testing.T, f Factory) {
	f.Features.Rewrite.Require(t, "Rewrite")
	env := f.NewEnv(t)
	before := env.Held(t)
	recs := records(env, 1, 3)
	first := write(t, env, recs)
	written(t, f, "first write", first)
	held(t, env, before+len(recs), "after the first write")

	again := write(t, env, records(env, 1, 3))
	written(t, f, "the same records again, without target ids", again)
	if f.Features.TargetIDs.Claimed() {
		for i := range again {
			if again[i].TargetID != first[i].TargetID {
				t.Fatalf("record %d: target id %s on the rewrite, %s on the first write", i, again[i].TargetID, first[i].TargetID)
			}
		}
	}
	held(t, env, before+len(recs), "after writing the same records again")

	withIDs := records(env, 1, 3)
	for i, r := range withIDs {
		r.TargetID = first[i].TargetID
	}
	written(t, f, "the same records again, with their target ids", write(t, env, withIDs))
	held(t, env, before+len(recs), "after writing the same records by their target ids")
	readBack(t, f, env, recs, first)
}

// testLostAnswer: the vendor applies a write and drops its answer; the
// records it carried fail transiently (none as permanent), and writing them
// again adds no record.
func testLostAnswer(t *testing.T, f Factory) {
	f.Features.Rewrite.Require(t, "Rewrite")
	f.Features.LostAnswer.Require(t, "LostAnswer")
	env := f.NewEnv(t)
	if env.LoseAnswer == nil {
		t.Fatal("Features.LostAnswer is claimed but Env.LoseAnswer is nil")
	}
	before := env.Held(t)
	recs := records(env, 1, 3)
	env.LoseAnswer(t)
	out := write(t, env, recs)
	failed := 0
	for i, o := range out {
		if o.Err != nil {
			transient(t, "record "+strconv.Itoa(i)+" of the write whose answer was lost", o.Err)
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("the lost answer failed no record: Env.LoseAnswer did not reach a write")
	}
	out = write(t, env, records(env, 1, 3))
	written(t, f, "the retry after the lost answer", out)
	held(t, env, before+len(recs), "after the retry of a write whose answer was lost")
	readBack(t, f, env, recs, out)
}
