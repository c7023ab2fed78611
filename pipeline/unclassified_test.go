package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

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

// FromVendor sorts a vendor's failure by its class: credentials wait a
// minute, a rate limit waits what the sink says, a refusal is permanent
// under the vendor's code, and the rest is returned as it is.
func TestFromVendorSortsByClass(t *testing.T) {
	for _, tc := range []struct {
		class     apierr.Class
		wait      time.Duration // 0: not a RetryAfterError
		permanent bool
	}{
		{apierr.Auth, pipeline.AuthWait, false},
		{apierr.RateLimited, 3 * time.Second, false},
		{apierr.Permanent, 0, true},
		{apierr.Transient, 0, false},
		{apierr.Unclassified, 0, false},
		{apierr.Quota, 0, false},
	} {
		t.Run(tc.class.String(), func(t *testing.T) {
			cause := fmt.Errorf("write: %w", vendorError{tc.class})
			got := pipeline.FromVendor(cause, "205", 3*time.Second)
			if !errors.Is(got, cause) {
				t.Fatalf("FromVendor lost the vendor's error: %v", got)
			}
			var ra *pipeline.RetryAfterError
			if isRA := errors.As(got, &ra); isRA != (tc.wait > 0) || isRA && ra.After != tc.wait {
				t.Errorf("retry after = %v (%v), want %v", ra, isRA, tc.wait)
			}
			var pe *pipeline.PermanentError
			if isPE := errors.As(got, &pe); isPE != tc.permanent || isPE && pe.Code != "205" {
				t.Errorf("permanent = %v (%v), want %v with code 205", pe, isPE, tc.permanent)
			}
			if tc.wait == 0 && !tc.permanent && got != cause {
				t.Errorf("a %s failure came back as %#v, want it as it was", tc.class, got)
			}
		})
	}
}
