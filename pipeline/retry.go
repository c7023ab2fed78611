package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/crmsync/crmsync/vendors/apierr"
)

// write sends records to the sink, retrying transient failures with backoff
// until each record is written or permanently failed. It returns an error
// only when ctx ends first. A record with a field that an earlier in-doubt
// write may still overwrite is sent after the others, once that write can
// no longer land (see InDoubtError).
func (ru *Runner) write(ctx context.Context, stopping <-chan struct{}, recs []*Record) ([]Outcome, []int, error) {
	outcomes := make([]Outcome, len(recs))
	attempts := make([]int, len(recs))
	var todo, fenced []int
	var fence time.Time
	now := ru.now()
	for i, r := range recs {
		if len(r.Fields) == 0 {
			// Nothing newer than what the target holds: no request.
			ru.Stats.Skipped.Add(1)
			outcomes[i] = Outcome{TargetID: r.TargetID}
			continue
		}
		if until := r.pendingUntil(now); !until.IsZero() {
			fenced = append(fenced, i)
			fence = maxTime(fence, until)
			continue
		}
		todo = append(todo, i)
	}
	if ru.r.Reverse {
		if err := ru.markIntended(ctx, recs, append(slices.Clone(todo), fenced...)); err != nil {
			return nil, nil, fmt.Errorf("route %s: mark intended writes: %w: %w", ru.r.Name, errState, err)
		}
	}
	bo := ru.newBackOff()
	if err := ru.send(ctx, stopping, recs, todo, outcomes, attempts, bo); err != nil {
		return nil, nil, err
	}
	if len(fenced) > 0 {
		ru.Stats.Fenced.Add(int64(len(fenced)))
		wait := fence.Sub(ru.now())
		ru.log.Info("holding newer values back until an earlier write whose answer was lost can no longer land",
			"records", len(fenced), "in", wait.Round(time.Millisecond))
		if !sleepUntil(ctx, stopping, wait) {
			return nil, nil, fmt.Errorf("route %s: stopped while holding back newer values over an in-doubt write", ru.r.Name)
		}
		if err := ru.send(ctx, stopping, recs, fenced, outcomes, attempts, bo); err != nil {
			return nil, nil, err
		}
	}
	return outcomes, attempts, nil
}

// send writes the records todo of recs, retrying transient failures with
// bo, and fills in their outcomes and attempts. A failure in doubt is
// recorded in the write ledger before it is retried.
func (ru *Runner) send(ctx context.Context, stopping <-chan struct{}, recs []*Record, todo []int, outcomes []Outcome, attempts []int, bo backoff.BackOff) error {
	for len(todo) > 0 {
		batch := make([]*Record, len(todo))
		for j, i := range todo {
			batch[j] = recs[i]
			attempts[i]++
		}
		res := ru.r.Sink.Write(ctx, batch)
		var again []int
		var wait time.Duration
		var lastErr, unclassified error
		doubt := map[int]time.Time{}
		for j, i := range todo {
			o := res[j]
			if o.Err == nil || errors.Is(o.Err, ErrPermanent) {
				outcomes[i] = o
				switch {
				case o.Err != nil:
				case o.Skip != "":
					ru.Stats.Skipped.Add(1)
				default:
					ru.Stats.Upserts.Add(1)
				}
				continue
			}
			again = append(again, i)
			lastErr = o.Err
			if apierr.IsUnclassified(o.Err) {
				unclassified = o.Err
			}
			if q, ok := IsQuota(o.Err); ok {
				wait = max(wait, q.ResetAt.Sub(ru.now()))
			}
			var ra *RetryAfterError
			if errors.As(o.Err, &ra) {
				wait = max(wait, ra.After)
			}
			var d *InDoubtError
			if errors.As(o.Err, &d) {
				doubt[i] = d.Until
			}
		}
		if len(doubt) > 0 {
			ru.Stats.InDoubt.Add(int64(len(doubt)))
			// Some records of the batch may be written: the mark is
			// retried in place rather than the batch redelivered.
			if err := ru.retryState(ctx, stopping, "mark in-doubt writes", func() error {
				return ru.markInDoubt(ctx, recs, doubt)
			}); err != nil {
				return err
			}
		}
		todo = again
		if len(todo) == 0 {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ru.Stats.Retries.Add(1)
		d := bo.NextBackOff()
		if d == backoff.Stop {
			return fmt.Errorf("route %s: giving up: %w", ru.r.Name, lastErr)
		}
		if q, ok := IsQuota(lastErr); ok {
			if q.Probe {
				// The sink has said why, in the vendor's terms.
				ru.log.Info("the vendor's daily limit is reached; pausing this route, then one request probes whether it has lifted",
					"probe_at", ru.now().Add(wait).UTC(), "records", len(todo), "err", lastErr)
			} else {
				ru.log.Warn("daily quota spent; pausing this route until the reset", "resume_at", ru.now().Add(wait).UTC(), "err", lastErr)
			}
			d = wait
		} else {
			d = max(d, wait)
			if unclassified != nil {
				// A vendor error its client did not classify is a bug there.
				// Dead-lettering it could lose a record that a retry would
				// have written, so it is retried as transient, and said loudly.
				ru.log.Warn("unclassified vendor error (a bug in its client's classification); retrying it as transient",
					"records", len(todo), "in", d.Round(time.Millisecond), "err", unclassified)
			} else {
				ru.log.Info("transient failure; retrying", "records", len(todo), "in", d.Round(time.Millisecond), "err", lastErr)
			}
		}
		if !sleepUntil(ctx, stopping, d) {
			return fmt.Errorf("route %s: stopped while retrying: %w", ru.r.Name, lastErr)
		}
	}
	return nil
}

// newBackOff is the route's retry policy: Route.NewBackOff, else the
// batch policy's exponential backoff.
func (ru *Runner) newBackOff() backoff.BackOff {
	if ru.r.NewBackOff != nil {
		return ru.r.NewBackOff()
	}
	return ru.r.Batch.backOff()
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// DefaultBackOff is the retry policy of a route with a zero BatchPolicy:
// exponential from 200ms to 30s with ±50% jitter and no elapsed-time limit.
// A route retries a transient failure until it heals or the process stops.
func DefaultBackOff() backoff.BackOff { return BatchPolicy{}.backOff() }

// heartbeat keeps the bus from redelivering messages while a long batch is in
// the sink (retries, rate-limit waits), reporting them in progress every
// interval.
func heartbeat(msgs []*Message, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// sleepUntil waits d; it returns false early when ctx ends or stop closes.
func sleepUntil(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	case <-t.C:
		return true
	}
}
