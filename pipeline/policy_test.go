package pipeline

import (
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

func TestBatchPolicyZeroValueTakesTheDocumentedDefaults(t *testing.T) {
	want := BatchPolicy{
		MaxObjects: 500, Linger: 500 * time.Millisecond, LingerDuringBackfill: 20 * time.Millisecond,
		BackfillWait: 10 * time.Millisecond, BackfillProbe: 2 * time.Second, FetchRetry: time.Second,
		DrainTimeout: 30 * time.Second, RetryInitial: 200 * time.Millisecond, RetryMax: 30 * time.Second,
		Heartbeat: 15 * time.Second, Redeliver: time.Second, InFlight: 2,
	}
	if got := (BatchPolicy{}).withDefaults(); got != want {
		t.Errorf("zero value:\n got %+v\nwant %+v", got, want)
	}
	negative := BatchPolicy{MaxObjects: -1, Linger: -1, LingerDuringBackfill: -1, BackfillWait: -1, BackfillProbe: -1,
		FetchRetry: -1, DrainTimeout: -1, RetryInitial: -1, RetryMax: -1, Heartbeat: -1, Redeliver: -1, InFlight: -1}
	if got := negative.withDefaults(); got != want {
		t.Errorf("negative settings:\n got %+v\nwant %+v", got, want)
	}
	set := BatchPolicy{
		MaxObjects: 7, Linger: time.Hour, LingerDuringBackfill: time.Hour, BackfillWait: time.Hour,
		BackfillProbe: time.Hour, FetchRetry: time.Hour, DrainTimeout: time.Hour,
		RetryInitial: time.Hour, RetryMax: time.Hour, Heartbeat: time.Hour, Redeliver: time.Hour, InFlight: 1,
	}
	if got := set.withDefaults(); got != set {
		t.Errorf("every setting set:\n got %+v\nwant it unchanged", got)
	}
}

func TestDefaultBackOffNeverGivesUp(t *testing.T) {
	b := DefaultBackOff().(*backoff.ExponentialBackOff)
	if b.InitialInterval != 200*time.Millisecond || b.MaxInterval != 30*time.Second || b.MaxElapsedTime != 0 ||
		b.RandomizationFactor != 0.5 {
		t.Fatalf("DefaultBackOff = initial %v, max %v, elapsed %v, jitter %v",
			b.InitialInterval, b.MaxInterval, b.MaxElapsedTime, b.RandomizationFactor)
	}
	for range 100 {
		if d := b.NextBackOff(); d == backoff.Stop || d > 45*time.Second {
			t.Fatalf("NextBackOff = %v", d)
		}
	}
}
