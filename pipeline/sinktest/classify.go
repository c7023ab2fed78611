package sinktest

import (
	"errors"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// Class is what a sink's error mapping should make of a vendor error, for
// CheckClass. The first field set says it; the zero Class checks nothing.
type Class struct {
	Code      string        // a dead letter (pipeline.PermanentError) with this code
	After     time.Duration // a retry no sooner than this, not permanent
	Quota     bool          // a pause of the account that probes (pipeline.QuotaError)
	Unchanged bool          // the vendor error as it is, retried with backoff
}

// CheckClass fails the test unless got, what the sink's mapping made of
// the vendor error err, is of the class want.
func CheckClass(t testing.TB, err, got error, want Class) {
	t.Helper()
	var pe *pipeline.PermanentError
	var ra *pipeline.RetryAfterError
	var qe *pipeline.QuotaError
	switch {
	case want.Code != "":
		if !errors.As(got, &pe) || pe.Code != want.Code {
			t.Fatalf("%v: want a dead letter with code %s", got, want.Code)
		}
	case want.After != 0:
		if !errors.As(got, &ra) || ra.After != want.After || errors.Is(got, pipeline.ErrPermanent) {
			t.Fatalf("%v: want a retry after %s", got, want.After)
		}
	case want.Quota:
		if !errors.As(got, &qe) || !qe.Probe {
			t.Fatalf("%v: want a quota pause", got)
		}
	case want.Unchanged:
		if got != err {
			t.Fatalf("%v: want the error unchanged", got)
		}
	}
}
