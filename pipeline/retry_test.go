package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// quotaSink answers its first write with a spent quota that resets at
// resetAt, then writes.
type quotaSink struct {
	resetAt time.Time
	calls   int
}

func (s *quotaSink) Write(_ context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	s.calls++
	out := make([]pipeline.Outcome, len(recs))
	for i, r := range recs {
		if s.calls == 1 {
			out[i] = pipeline.Outcome{Err: &pipeline.QuotaError{Account: "b", ResetAt: s.resetAt, Err: errors.New("quota")}}
			continue
		}
		out[i] = pipeline.Outcome{TargetID: "t-" + r.Key}
	}
	return out
}

// TestQuotaWaitIsReadOnTheRoutesClock: the pause before a spent quota is
// retried runs until its reset as the route's clock tells it, not the wall
// clock's.
func TestQuotaWaitIsReadOnTheRoutesClock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	state := testenv.State(t)
	// The route's clock is a day ahead of the wall clock: read on the wall
	// clock, the reset would be a day away.
	now := func() time.Time { return time.Now().Add(24 * time.Hour) }
	sink := &quotaSink{resetAt: now().Add(20 * time.Millisecond)}
	route := copyRoute("a", "b", sink)
	route.Now = now
	ru := newRunner(t, route, nil, state)
	res := applyAustin(t, ctx, ru)
	if res.Written != 1 || sink.calls != 2 || ru.Stats.Retries.Load() != 1 {
		t.Fatalf("result %+v after %d sink calls, %d retries", res, sink.calls, ru.Stats.Retries.Load())
	}
}
