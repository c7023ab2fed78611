package pipeline_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/cenkalti/backoff/v4"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/apierr"
)

// vendorError is a vendor answer of a given class, as the vendor clients'
// error types are.
type vendorError struct{ c apierr.Class }

func (e vendorError) Error() string       { return "vendor answer" }
func (e vendorError) Class() apierr.Class { return e.c }

// failOnceSink fails its first write with err, then writes.
type failOnceSink struct {
	err   error
	calls int
}

func (s *failOnceSink) Write(_ context.Context, recs []*pipeline.Record) []pipeline.Outcome {
	s.calls++
	out := make([]pipeline.Outcome, len(recs))
	for i, r := range recs {
		if s.calls == 1 {
			out[i] = pipeline.Outcome{Err: s.err}
			continue
		}
		out[i] = pipeline.Outcome{TargetID: "t-" + r.Key}
	}
	return out
}

// TestAnUnclassifiedVendorErrorIsRetriedAndReported: the zero Class is
// neither dropped as permanent nor retried in silence as transient. The
// route retries it (no record is lost to a classification bug) and warns;
// a transient vendor error or an error that was never a vendor answer is
// retried without that warning.
func TestAnUnclassifiedVendorErrorIsRetriedAndReported(t *testing.T) {
	cases := []struct {
		name string
		err  error
		warn bool
	}{
		{"unclassified vendor error", vendorError{apierr.Unclassified}, true},
		{"wrapped unclassified vendor error", errors.Join(errors.New("lead 1"), vendorError{}), true},
		{"transient vendor error", vendorError{apierr.Transient}, false},
		{"not a vendor error", errors.New("connection reset"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			state := testenv.State(t)
			var logs testenv.Log
			sink := &failOnceSink{err: tc.err}
			route := copyRoute("a", "b", sink)
			route.NewBackOff = func() backoff.BackOff { return &backoff.ZeroBackOff{} }
			route.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			ru := newRunner(t, route, nil, state)
			res := applyAustin(t, ctx, ru)
			if res.Written != 1 || len(res.DeadLettered) != 0 || sink.calls != 2 || ru.Stats.Retries.Load() != 1 {
				t.Fatalf("result %+v after %d sink calls, %d retries", res, sink.calls, ru.Stats.Retries.Load())
			}
			warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "unclassified vendor error")
			if warned != tc.warn {
				t.Fatalf("warned %v, want %v; log:\n%s", warned, tc.warn, logs.String())
			}
		})
	}
}
