package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

type pending struct {
	ev     Event
	seq    uint64
	mapped Mapped
	key    string
}

// errStopped says a batch was abandoned because the route is stopping.
var errStopped = errors.New("route stopping")

// process maps, coalesces, writes and settles one fetched batch. ctx bounds
// the work; stopping closes when the route is asked to stop, after which
// failures are no longer retried (the bus redelivers them after a restart).
// On any other error the batch is neither acknowledged nor nakked: Run
// decides whether and when the bus delivers it again.
//
// held, if not nil, is closed once the batch holds its records (see
// RecordLocks), or when process returns before that.
func (ru *Runner) process(ctx context.Context, stopping <-chan struct{}, msgs []*Message, held chan<- struct{}) error {
	signal := func() {}
	if held != nil {
		signal = sync.OnceFunc(func() { close(held) })
	}
	defer signal()
	ru.Stats.Events.Add(int64(len(msgs)))
	ru.Stats.Batches.Add(1)
	stopBeat := heartbeat(msgs, ru.r.Batch.Heartbeat)
	defer stopBeat()
	items := make([]pending, len(msgs))
	var maxSeq uint64
	for i, m := range msgs {
		items[i] = pending{ev: m.Event, seq: m.Seq}
		if !m.backfill {
			// The route's position is in the change-event stream; backfill
			// events are numbered in a stream of their own.
			maxSeq = max(maxSeq, m.Seq)
		}
	}
	if _, err := ru.handle(ctx, stopping, items, maxSeq, false, signal); err != nil {
		// Settle nothing: the bus redelivers, and the ledger makes the
		// rewrite of anything already written a no-op.
		if errors.Is(err, errStopped) {
			nakAll(msgs, ru.r.Batch.Redeliver)
			return nil
		}
		return err
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			ru.log.Warn("ack failed; the event will be redelivered and skipped", "seq", m.Seq, "err", err)
		}
	}
	for last := ru.Stats.LastSeq.Load(); maxSeq > last; last = ru.Stats.LastSeq.Load() {
		if ru.Stats.LastSeq.CompareAndSwap(last, maxSeq) {
			break
		}
	}
	ru.Stats.Settled.Add(int64(len(msgs)))
	return nil
}

// Result counts what handling a set of events did.
type Result struct {
	Records      int     // distinct target records
	Written      int     // records written to the target
	Skipped      int     // records with nothing newer to write
	DeadLettered []int64 // ids of the dead letters created
}

// Apply runs events through the route's map and sink outside the bus, for
// dead-letter retries and replays: same coalescing, ledger and dead-letter
// handling as live traffic. It does not move the route's position.
func (ru *Runner) Apply(ctx context.Context, evs []Event) (Result, error) {
	items := make([]pending, len(evs))
	for i, ev := range evs {
		items[i] = pending{ev: ev}
	}
	return ru.handle(ctx, nil, items, 0, true, func() {})
}

// handle runs events through map, coalesce, sink and settle. redo marks
// events sent again on purpose (dead-letter retries, replays).
func (ru *Runner) handle(ctx context.Context, stopping <-chan struct{}, all []pending, seq uint64, redo bool, held func()) (Result, error) {
	var res Result
	var items []pending
	var dead []DeadLetter
	for _, it := range all {
		mp, err := ru.r.Mapper.Map(it.ev)
		if errors.Is(err, ErrSkip) {
			ru.Stats.Skipped.Add(1)
			ru.log.Debug("event not for this route", "event", it.ev.ID, "reason", err)
			continue
		}
		if err != nil {
			dead = append(dead, ru.deadLetter(it.ev.ExternalID, []Event{it.ev}, "mapping", err, 1))
			continue
		}
		it.mapped = mp
		items = append(items, it)
	}

	// Resolve canonical ids in one transaction.
	if len(items) > 0 {
		keys := make([][]Key, len(items))
		for i := range items {
			keys[i] = items[i].mapped.Keys
		}
		ids, err := ru.state.ResolveAll(ctx, keys)
		if err != nil {
			return res, fmt.Errorf("route %s: resolve ids: %w: %w", ru.r.Name, errState, err)
		}
		for i := range items {
			items[i].key = ids[i]
		}
		// What to send is decided from the target's ledger and recorded in
		// it on settling: no other route writes these records meanwhile.
		names := make([]string, len(items))
		for i, it := range items {
			names[i] = ru.r.To.Vendor + "." + ru.r.To.Entity + ":" + it.key
		}
		release, err := ru.r.Locks.hold(ctx, stopping, names)
		if err != nil {
			return res, err
		}
		defer release()
	}
	held()

	recs, err := ru.coalesce(ctx, items, redo)
	if err != nil {
		return res, fmt.Errorf("route %s: read ledger: %w: %w", ru.r.Name, errState, err)
	}
	res.Records = len(recs)
	ru.target.Lock()
	outcomes, attempts, rerr, werr := ru.readBackAndWrite(ctx, stopping, recs)
	ru.target.Unlock()
	if rerr != nil {
		return res, rerr
	}
	if errors.Is(werr, errState) || errors.Is(werr, ErrStateUnusable) {
		return res, werr
	}
	if werr != nil {
		return res, fmt.Errorf("%w: %v", errStopped, werr)
	}

	byKey := map[string][]Event{}
	for _, it := range items {
		byKey[it.key] = append(byKey[it.key], it.ev)
	}
	// What the records settle into the state is collected first and
	// settled in one call.
	var st settlement
	for i, rec := range recs {
		ru.settleSource(&st, rec)
		ru.endMarks(&st, rec.Key, rec.overtaken)
		o := outcomes[i]
		if o.Err != nil {
			dead = append(dead, ru.deadLetter(rec.Key, byKey[rec.Key], codeOf(o.Err), o.Err, attempts[i]))
			continue
		}
		if o.Skip != "" {
			ru.log.Debug("record not written", "record", rec.Key, "reason", o.Skip)
			ru.settleSkipped(&st, rec)
			continue
		}
		if len(rec.Fields) > 0 && ru.log.Enabled(ctx, slog.LevelDebug) {
			ru.log.Debug("record written", "record", rec.Key, "target", o.TargetID, "fields", slices.Sorted(maps.Keys(rec.Fields)))
		}
		if !o.settled {
			ru.settleWritten(&st, rec, o)
		}
	}
	// The records are written by now: a failing state is retried here
	// rather than by redelivering the batch, which would write them again.
	err = ru.retryState(ctx, stopping, "save the batch's outcome", func() error {
		var serr error
		res.DeadLettered, serr = ru.state.Settle(ctx, Settlement{
			Links: st.links, Ledger: st.ledger, DeadLetters: dead, Route: ru.r.Name, Seq: seq,
		})
		return serr
	})
	if err != nil {
		return res, err
	}
	for i := range recs {
		switch {
		case outcomes[i].Err != nil:
		case attempts[i] == 0, outcomes[i].Skip != "":
			res.Skipped++
		default:
			res.Written++
		}
	}
	ru.Stats.DeadLetters.Add(int64(len(dead)))
	for _, d := range dead {
		ru.log.Warn("dead-lettered", "record", d.RecordKey, "code", d.Code, "message", d.Message, "attempts", d.Attempts)
	}
	return res, nil
}

// readBackAndWrite settles what earlier writes of recs left unsettled (see
// readBackUnsettled; its failure is rerr) and then writes recs (see write;
// its failure is werr).
func (ru *Runner) readBackAndWrite(ctx context.Context, stopping <-chan struct{}, recs []*Record) (outcomes []Outcome, attempts []int, rerr, werr error) {
	if rerr = ru.readBackUnsettled(ctx, stopping, recs); rerr != nil {
		return nil, nil, rerr, nil
	}
	outcomes, attempts, werr = ru.write(ctx, stopping, recs)
	return outcomes, attempts, nil, werr
}

// retryState runs op, a state operation of a batch whose records are
// (partly) written, until it succeeds, retrying failures with the route's
// backoff while the batch stays in progress on the bus. It returns an error
// wrapping ErrStateUnusable when the state cannot heal, one wrapping
// errStopped when the route stops first (the batch is then redelivered),
// and, without a route loop to stop it (stopping nil: Apply), the first
// failure.
func (ru *Runner) retryState(ctx context.Context, stopping <-chan struct{}, what string, op func() error) error {
	var bo backoff.BackOff
	for {
		err := op()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrStateUnusable):
			return fmt.Errorf("route %s: %s: %w", ru.r.Name, what, err)
		case stopping == nil:
			return fmt.Errorf("route %s: %s: %w: %w", ru.r.Name, what, errState, err)
		}
		if bo == nil {
			bo = ru.newBackOff()
		}
		d := bo.NextBackOff()
		if d == backoff.Stop {
			return fmt.Errorf("%w: %s: giving up: %v", errStopped, what, err)
		}
		ru.Stats.StateRetries.Add(1)
		ru.log.Warn("the state failed; retrying (the batch is acknowledged only once this is saved)",
			"op", what, "in", d.Round(time.Millisecond), "err", err)
		if !sleepUntil(ctx, stopping, d) {
			return fmt.Errorf("%w: %s: %v", errStopped, what, err)
		}
	}
}

// nakAll asks the bus to deliver msgs again after delay.
func nakAll(msgs []*Message, delay time.Duration) {
	for _, m := range msgs {
		_ = m.Nak(delay)
	}
}
