package pipeline

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

// BatchPolicy holds a route's timings: when a batch is fetched and sent, how
// a failed write is retried, and how long a batch may take to finish at
// shutdown. The zero value is usable: every field that is zero or negative
// takes its default.
type BatchPolicy struct {
	// MaxObjects per batch; default 500 (SharpSpring's per-request limit).
	MaxObjects int
	// Linger is how long a fetch of live events waits for a batch to fill;
	// default 500ms.
	Linger time.Duration
	// LingerDuringBackfill replaces Linger while backfill events are
	// flowing: the live fetch then waits only briefly, so that batches
	// topped up with backfill events follow each other without a linger's
	// pause; default 20ms.
	LingerDuringBackfill time.Duration
	// BackfillWait is how long a fetch of backfill events waits for the
	// room a batch has left to fill; default 10ms.
	BackfillWait time.Duration
	// BackfillProbe is how often the backfill consumer is asked for events
	// while it has had none; default 2s.
	BackfillProbe time.Duration
	// FetchRetry is the pause after a failed fetch before the next one;
	// default 1s.
	FetchRetry time.Duration
	// DrainTimeout bounds how long the batches in flight may take to finish
	// after Run's ctx is cancelled; default 30s. Unfinished messages are
	// not acknowledged and are redelivered on the next start.
	DrainTimeout time.Duration
	// RetryInitial is the first wait before a transient write failure is
	// retried; default 200ms. Waits then grow exponentially, with ±50%
	// jitter, up to RetryMax. Route.NewBackOff, when set, replaces both.
	RetryInitial time.Duration
	// RetryMax caps the wait between retries of a transient write failure;
	// default 30s. Retries go on until the write heals or the route stops.
	RetryMax time.Duration
	// Heartbeat is how often the messages of a batch still in the sink
	// (retries, rate-limit waits) are reported in progress, so that the bus
	// does not redeliver them; default 15s. It must stay below the bus's
	// acknowledgement wait.
	Heartbeat time.Duration
	// Redeliver is how long the bus waits before delivering again the
	// messages of a batch that could not be handled; default 1s.
	Redeliver time.Duration
	// InFlight is how many fetched batches a route handles at once; default
	// 2. The next batch is fetched, mapped, resolved and read against the
	// ledger while the one before it is written and settled. Writes to the
	// target (and reads of it) stay one at a time, and a record in two
	// batches is handled by the later one only once the earlier one settled
	// it (see RecordLocks). 1 handles one batch at a time.
	InFlight int
}

// withDefaults returns p with every setting left at zero (or below) at
// its default.
func (p BatchPolicy) withDefaults() BatchPolicy {
	p.MaxObjects = orDefault(p.MaxObjects, 500)
	p.Linger = orDefault(p.Linger, 500*time.Millisecond)
	p.LingerDuringBackfill = orDefault(p.LingerDuringBackfill, 20*time.Millisecond)
	p.BackfillWait = orDefault(p.BackfillWait, 10*time.Millisecond)
	p.BackfillProbe = orDefault(p.BackfillProbe, 2*time.Second)
	p.FetchRetry = orDefault(p.FetchRetry, time.Second)
	p.DrainTimeout = orDefault(p.DrainTimeout, 30*time.Second)
	p.RetryInitial = orDefault(p.RetryInitial, 200*time.Millisecond)
	p.RetryMax = orDefault(p.RetryMax, 30*time.Second)
	p.Heartbeat = orDefault(p.Heartbeat, 15*time.Second)
	p.Redeliver = orDefault(p.Redeliver, time.Second)
	p.InFlight = orDefault(p.InFlight, 2)
	return p
}

// backOff is the retry policy for transient write failures: exponential
// from RetryInitial to RetryMax with ±50% jitter and no elapsed-time limit.
func (p BatchPolicy) backOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = p.RetryInitial
	b.MaxInterval = p.RetryMax
	b.MaxElapsedTime = 0
	b.Reset()
	return b
}

func orDefault[T int | time.Duration](d, def T) T {
	if d <= 0 {
		return def
	}
	return d
}
