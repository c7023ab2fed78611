package pipeline

import (
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

func TestBatchPolicyZeroValueTakesTheDocumentedDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		get  func(BatchPolicy) time.Duration
		def  time.Duration
	}{
		{"Linger", BatchPolicy.linger, 500 * time.Millisecond},
		{"LingerDuringBackfill", BatchPolicy.lingerDuringBackfill, 20 * time.Millisecond},
		{"BackfillWait", BatchPolicy.backfillWait, 10 * time.Millisecond},
		{"BackfillProbe", BatchPolicy.backfillProbe, 2 * time.Second},
		{"FetchRetry", BatchPolicy.fetchRetry, time.Second},
		{"DrainTimeout", BatchPolicy.drainTimeout, 30 * time.Second},
		{"RetryInitial", BatchPolicy.retryInitial, 200 * time.Millisecond},
		{"RetryMax", BatchPolicy.retryMax, 30 * time.Second},
		{"Heartbeat", BatchPolicy.heartbeat, 15 * time.Second},
		{"Redeliver", BatchPolicy.redeliver, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.get(BatchPolicy{}); got != tc.def {
				t.Errorf("zero value: %v, want %v", got, tc.def)
			}
			if got := tc.get(BatchPolicy{
				Linger: time.Hour, LingerDuringBackfill: time.Hour, BackfillWait: time.Hour,
				BackfillProbe: time.Hour, FetchRetry: time.Hour, DrainTimeout: time.Hour,
				RetryInitial: time.Hour, RetryMax: time.Hour, Heartbeat: time.Hour, Redeliver: time.Hour,
			}); got != time.Hour {
				t.Errorf("set to 1h: %v", got)
			}
		})
	}
	if got := (BatchPolicy{}).maxObjects(); got != 500 {
		t.Errorf("MaxObjects zero value: %d, want 500", got)
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
