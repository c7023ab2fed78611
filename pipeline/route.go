package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// ConsumerSource hands out a route's durable consumer.
type ConsumerSource interface {
	Consumer(ctx context.Context, route, filter string) (Consumer, error)
}

// Target names the vendor entity a route writes.
type Target struct{ Vendor, Entity string }

// Route moves one source's events into one target.
type Route struct {
	Name   string
	From   string // "<vendor>.<entity>"
	To     Target
	Mapper Mapper
	Sink   Sink
	// Batch holds the route's timings (batching, fetching, retry, drain).
	Batch BatchPolicy
	// NewBackOff returns the retry policy for transient failures; default
	// exponential from Batch.RetryInitial to Batch.RetryMax with jitter,
	// without an elapsed limit.
	NewBackOff func() backoff.BackOff
	// Now is the clock the route reads to decide when to probe the
	// backfill and how long a quota reset is away; default time.Now. Waits
	// themselves use the runtime's timers.
	Now    func() time.Time
	Logger *slog.Logger
	// Reverse says some route reads this route's target (its poller's
	// reports come back as events). Values are then marked as crmsync's
	// own, and as sent, before they are sent, so that those routes
	// recognise their echo, and a report read while the write is on its
	// way, even before this batch settles. A route whose sink can read its
	// target (TargetReader) marks them too, so that a batch handled again
	// after a restart knows which of its writes may have landed (see
	// readBackUnsettled).
	Reverse bool
	// Locks keep this route and the others given the same from writing
	// one target record at the same time (see RecordLocks); nil: the
	// locks every route of the process shares.
	Locks *RecordLocks
}

// RouteStats are a route's running counts. Read them with Snapshot.
type RouteStats struct {
	Events      atomic.Int64 // events consumed
	Upserts     atomic.Int64 // records written to the target
	Skipped     atomic.Int64 // records with nothing newer to write
	DeadLetters atomic.Int64
	Retries     atomic.Int64
	// StateRetries counts state failures the route retried: a batch sent
	// back to the bus before anything of it was written, or the saving of
	// a written batch's outcome tried again.
	StateRetries atomic.Int64
	InDoubt      atomic.Int64 // writes whose answer was lost (InDoubtError)
	// Fenced counts records held back until an earlier in-doubt write of
	// their fields could no longer land.
	Fenced atomic.Int64
	// ReadBacks counts records read back from the target before they were
	// written, because an earlier write of them may have landed without
	// being settled (see readBackUnsettled, readBackInDoubt). Zero in the
	// steady state.
	ReadBacks atomic.Int64
	Batches   atomic.Int64
	Settled   atomic.Int64 // events acknowledged (written, skipped or dead-lettered)
	LastSeq   atomic.Uint64
}

// Runner runs one route.
type Runner struct {
	r Route
	// srcVendor and srcEntity split Route.From.
	srcVendor, srcEntity string
	bus                  ConsumerSource
	state                RouteState
	log                  *slog.Logger
	now                  func() time.Time
	Stats                RouteStats
	// target is held while a batch reads or writes the target: batches in
	// flight at once take turns at the vendor.
	target sync.Mutex
}

// NewRunner prepares a route for Run.
func NewRunner(r Route, bus ConsumerSource, state RouteState) (*Runner, error) {
	if r.Name == "" || r.Mapper == nil || r.Sink == nil || r.To.Vendor == "" {
		return nil, fmt.Errorf("route %q: name, mapper, sink and target are required", r.Name)
	}
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	v, e, ok := splitSource(r.From)
	if !ok {
		return nil, fmt.Errorf("route %s: from %q is not <vendor>.<entity>", r.Name, r.From)
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	r.Batch = r.Batch.withDefaults()
	if r.Locks == nil {
		r.Locks = processLocks
	}
	return &Runner{r: r, srcVendor: v, srcEntity: e, bus: bus, state: state, log: log.With("route", r.Name), now: now}, nil
}

// Name is the route's name.
func (ru *Runner) Name() string { return ru.r.Name }

// BackfillConsumer names the consumer through which a route reads its
// source's backfill events (see BackfillSubject), beside the consumer named
// after the route itself for live events.
func BackfillConsumer(route string) string { return route + "_backfill" }

// From is the route's source, "<vendor>.<entity>".
func (ru *Runner) From() string { return ru.r.From }

// Run consumes the route until ctx is cancelled, then finishes the batches
// in flight (Batch.InFlight, bounded by Batch.DrainTimeout) and returns nil. A failing state
// does not stop it: the batch is retried with the route's backoff (see
// stateFailed) and counted in Stats.StateRetries. It returns an error only
// when the route cannot go on: its consumers cannot be opened, or the state
// fails with ErrStateUnusable.
func (ru *Runner) Run(ctx context.Context) error {
	cons, err := ru.bus.Consumer(ctx, ru.r.Name, Subject(ru.srcEntity, ru.srcVendor))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	backfill, err := ru.bus.Consumer(ctx, BackfillConsumer(ru.r.Name), BackfillSubject(ru.srcEntity, ru.srcVendor))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	// Live events come first: backfill events only fill what room a batch
	// has left, so a live event waits at most for the batches in flight.
	// While backfill events are flowing the live fetch does not linger; when
	// there are none, the backfill consumer is only probed now and then.
	p := ru.r.Batch
	var bfActive bool
	var lastProbe time.Time
	var stateBO backoff.BackOff // while batches fail on the state
	var inFlight []*batchRun    // oldest first
	// finish waits for the oldest batch in flight and deals with its
	// failure; false: the route cannot go on (err).
	finish := func() (err error, ok bool) {
		b := inFlight[0]
		inFlight = inFlight[1:]
		perr := <-b.done
		if perr == nil {
			stateBO = nil
			return nil, true
		}
		if !ru.stateFailed(ctx, b.msgs, perr, &stateBO) {
			return perr, false
		}
		return nil, true
	}
	defer func() {
		// Stopping: the batches in flight finish (bounded by DrainTimeout).
		for _, b := range inFlight {
			if perr := <-b.done; perr != nil {
				nakAll(b.msgs, p.Redeliver)
			}
		}
	}()
	for ctx.Err() == nil {
		wait := p.Linger
		if bfActive {
			wait = p.LingerDuringBackfill
		}
		msgs, err := cons.Fetch(ctx, p.MaxObjects, wait)
		if room := p.MaxObjects - len(msgs); room > 0 && err == nil && ctx.Err() == nil &&
			(bfActive || ru.now().Sub(lastProbe) > p.BackfillProbe) {
			more, berr := backfill.Fetch(ctx, room, p.BackfillWait)
			lastProbe, bfActive = ru.now(), len(more) > 0
			for _, m := range more {
				m.backfill = true
			}
			msgs = append(msgs, more...)
			err = berr
		}
		if len(msgs) > 0 {
			if len(inFlight) >= p.InFlight {
				if ferr, ok := finish(); !ok {
					nakAll(msgs, p.Redeliver)
					return ferr
				}
			}
			inFlight = append(inFlight, ru.start(ctx, msgs))
		}
		if len(inFlight) > 0 && (len(msgs) == 0 || inFlight[0].finished()) {
			// Nothing new came, or the oldest batch is done: deal with it
			// now rather than when the next batch needs its place.
			if ferr, ok := finish(); !ok {
				return ferr
			}
		}
		if err != nil && ctx.Err() == nil {
			ru.log.Warn("fetch failed; retrying", "err", err)
			if !Sleep(ctx, p.FetchRetry) {
				break
			}
		}
	}
	return nil
}

// batchRun is one batch being handled by Runner.start.
type batchRun struct {
	msgs []*Message
	done chan error // receives process's outcome, once
	end  chan struct{}
}

// finished reports whether the batch's outcome is ready.
func (b *batchRun) finished() bool {
	select {
	case <-b.end:
		return true
	default:
		return false
	}
}

// start handles msgs in a goroutine of its own and returns once the batch
// holds its records (or ended): a batch started after it can then only
// wait for it, never overtake it, on a record they share.
func (ru *Runner) start(ctx context.Context, msgs []*Message) *batchRun {
	b := &batchRun{msgs: msgs, done: make(chan error, 1), end: make(chan struct{})}
	held := make(chan struct{})
	go func() {
		pctx, cancel := ru.drainContext(ctx)
		err := ru.process(pctx, ctx.Done(), msgs, held)
		cancel()
		b.done <- err
		close(b.end)
	}()
	<-held
	return b
}

// stateFailed settles a batch that process could not handle. A passing
// state failure before anything was written (errState) sends the batch
// back to the bus after the next backoff interval of *bo, which grows while
// batches keep failing, and waits that long before fetching again; nothing
// of the batch is acknowledged. It reports false, the batch returned to
// the bus at once, when the route must stop instead: the state is unusable
// (ErrStateUnusable), the failure is not the state's, or the policy gives
// up.
func (ru *Runner) stateFailed(ctx context.Context, msgs []*Message, err error, bo *backoff.BackOff) bool {
	if errors.Is(err, ErrStateUnusable) || !errors.Is(err, errState) {
		nakAll(msgs, ru.r.Batch.Redeliver)
		return false
	}
	if *bo == nil {
		*bo = ru.newBackOff()
	}
	d := (*bo).NextBackOff()
	if d == backoff.Stop {
		nakAll(msgs, ru.r.Batch.Redeliver)
		return false
	}
	if ctx.Err() != nil {
		// Stopping: the next start takes the batch up again.
		nakAll(msgs, ru.r.Batch.Redeliver)
		return true
	}
	ru.Stats.StateRetries.Add(1)
	nakAll(msgs, d)
	ru.log.Warn("the state failed; the batch goes back to the bus and is retried",
		"events", len(msgs), "in", d.Round(time.Millisecond), "err", err)
	Sleep(ctx, d)
	return true
}

// drainContext returns a context for one batch that outlives ctx by at most
// Batch.DrainTimeout, so a batch in flight at shutdown can finish.
func (ru *Runner) drainContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := ru.r.Batch.DrainTimeout
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(d, cancel)
		context.AfterFunc(pctx, func() { t.Stop() })
	})
	return pctx, func() { stop(); cancel() }
}

// Sleep waits d, or until ctx ends; it reports whether the whole wait
// passed (false: ctx ended first).
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func splitSource(s string) (vendor, entity string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], i > 0 && i < len(s)-1
		}
	}
	return "", "", false
}
