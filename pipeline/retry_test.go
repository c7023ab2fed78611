package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

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
	sink := &failOnceSink{err: &pipeline.QuotaError{Account: "b", ResetAt: now().Add(20 * time.Millisecond), Err: errors.New("quota")}}
	route := copyRoute("a", "b", sink)
	route.Now = now
	ru := newRunner(t, route, nil, state)
	res := applyAustin(t, ctx, ru)
	if res.Written != 1 || sink.calls != 2 || ru.Stats.Retries.Load() != 1 {
		t.Fatalf("result %+v after %d sink calls, %d retries", res, sink.calls, ru.Stats.Retries.Load())
	}
}
