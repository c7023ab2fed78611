package pipeline_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// TestRunPollsWaitsAsLongAsAskedAndStopsOnAnUnreadableCursor: a failed
// poll is tried again after the longer of the interval and the wait the
// vendor asked for; a stored cursor that cannot be read ends Run with its
// error, and the end of ctx ends it with nil.
func TestRunPollsWaitsAsLongAsAskedAndStopsOnAnUnreadableCursor(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	slow := errors.New("slow down")
	retryAfter := func(err error) time.Duration {
		if errors.Is(err, slow) {
			return time.Hour
		}
		return 0
	}
	synctest.Test(t, func(t *testing.T) {
		var at []time.Duration
		start := time.Now()
		unreadable := &pipeline.UnreadableCursorError{Source: "s", Err: errors.New("not JSON")}
		results := []error{errors.New("refused"), slow, nil, unreadable}
		err := pipeline.RunPolls(t.Context(), log, time.Minute, func(context.Context) (int, error) {
			at = append(at, time.Since(start))
			err := results[0]
			results = results[1:]
			return 0, err
		}, retryAfter)
		if !errors.Is(err, unreadable) {
			t.Fatalf("Run = %v, want the unreadable cursor's error", err)
		}
		want := []time.Duration{0, time.Minute, time.Minute + time.Hour, 2*time.Minute + time.Hour}
		if !slices.Equal(at, want) {
			t.Fatalf("polled at %v, want %v", at, want)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		polls := 0
		err := pipeline.RunPolls(ctx, log, time.Minute, func(context.Context) (int, error) {
			if polls++; polls == 3 {
				cancel()
			}
			return 0, errors.New("refused")
		}, nil)
		if err != nil || polls != 3 {
			t.Fatalf("Run after ctx ended = %v after %d polls, want nil after 3", err, polls)
		}
	})
}
