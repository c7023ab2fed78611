package pipeline_test

import (
	"context"
	"testing"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// skipSink writes nothing on purpose: its target cannot update records.
type skipSink struct{ calls int }

func (s *skipSink) Write(_ context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	s.calls++
	out := make([]pipeline.Outcome, len(recs))
	for i, r := range recs {
		out[i] = pipeline.Outcome{TargetID: r.TargetID, Skip: "no update"}
	}
	return out
}

// TestSkippedOutcome: a record the sink settles as skipped is counted as
// skipped, not written; it is neither dead-lettered nor recorded in the
// write ledger as the target's content.
func TestSkippedOutcome(t *testing.T) {
	ctx := context.Background()
	state := testenv.State(t)
	sink := &skipSink{}
	ru := newRunner(t, copyRoute("a", "b", sink), nil, state)
	res := applyAustin(t, ctx, ru)
	if res.Written != 0 || res.Skipped != 1 || len(res.DeadLettered) != 0 || sink.calls != 1 {
		t.Fatalf("result %+v after %d sink calls", res, sink.calls)
	}
	if ru.Stats.Upserts.Load() != 0 || ru.Stats.Skipped.Load() != 1 {
		t.Fatalf("stats: upserts %d, skipped %d", ru.Stats.Upserts.Load(), ru.Stats.Skipped.Load())
	}
	id, err := state.Lookup(ctx, pipeline.Key{Vendor: "a", Entity: "lead", Kind: pipeline.KindID, Value: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := state.Ledger(ctx, "b", "lead", []string{id}); err != nil || len(l) != 0 {
		t.Fatalf("ledger %v %v: a skipped write was recorded", l, err)
	}
}
