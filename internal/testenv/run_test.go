package testenv

import (
	"context"
	"errors"
	"testing"
)

type recordingTB struct {
	testing.TB
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, format)
}

func TestGoStopsRunOnceAndReportsItsError(t *testing.T) {
	calls := 0
	rec := &recordingTB{TB: t}
	stop := Go(rec, "run", func(ctx context.Context) error {
		calls++
		<-ctx.Done()
		return errors.New("ended badly")
	})
	stop()
	stop()
	if calls != 1 || len(rec.errs) != 1 {
		t.Fatalf("run called %d times, %d errors reported; want 1 and 1", calls, len(rec.errs))
	}
}
