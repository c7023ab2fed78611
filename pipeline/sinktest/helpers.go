package sinktest

import (
	"context"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// FaultsOutage is an Env.Outage for a simulator whose faults are set as a
// whole by set (its SetFaults): the outage sets down, faults under which
// every request fails without applying anything, and its end sets the
// zero faults again.
func FaultsOutage[F any](set func(F), down F) func(*testing.T) func() {
	return func(*testing.T) func() {
		set(down)
		return func() {
			var none F
			set(none)
		}
	}
}

// Unanswered returns what a Write of n records gives back when its process
// stopped before the vendor's answer came: for each record a transient
// failure (a short pipeline.RetryAfterError wrapping context.Canceled), so
// that the route settles none of them and the records are written again
// after the restart.
func Unanswered(n int) []pipeline.Outcome {
	out := make([]pipeline.Outcome, n)
	for i := range out {
		out[i] = pipeline.Outcome{Err: &pipeline.RetryAfterError{After: time.Millisecond, Err: context.Canceled}}
	}
	return out
}
