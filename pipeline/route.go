package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/crmsync/crmsync/vendors/apierr"
)

// ConsumerSource hands out a route's durable consumer.
type ConsumerSource interface {
	Consumer(ctx context.Context, route, filter string) (Consumer, error)
}

// BatchPolicy says when a route's batch is sent.
type BatchPolicy struct {
	// MaxObjects per batch; default 500 (SharpSpring's per-request limit).
	MaxObjects int
	// Linger is how long to wait for a batch to fill; default 500ms.
	Linger time.Duration
}

func (p BatchPolicy) maxObjects() int {
	if p.MaxObjects <= 0 {
		return 500
	}
	return p.MaxObjects
}

func (p BatchPolicy) linger() time.Duration {
	if p.Linger <= 0 {
		return 500 * time.Millisecond
	}
	return p.Linger
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
	Batch  BatchPolicy
	// DrainTimeout bounds how long the batch in flight may take to finish
	// after Run's ctx is cancelled; default 30s. Unfinished messages are
	// not acknowledged and are redelivered on the next start.
	DrainTimeout time.Duration
	// NewBackOff returns the retry policy for transient failures; default
	// exponential from 200ms to 30s with jitter, without an elapsed limit.
	NewBackOff func() backoff.BackOff
	Logger     *slog.Logger
	// Reverse says a route in the other direction exists (target → source).
	// Values are then marked as crmsync's own before they are sent, so the
	// reverse route recognises their echo even before this batch settles.
	Reverse bool
}

// RouteStats are a route's running counts. Read them with Snapshot.
type RouteStats struct {
	Events      atomic.Int64 // events consumed
	Upserts     atomic.Int64 // records written to the target
	Skipped     atomic.Int64 // records with nothing newer to write
	DeadLetters atomic.Int64
	Retries     atomic.Int64
	Batches     atomic.Int64
	Settled     atomic.Int64 // events acknowledged (written, skipped or dead-lettered)
	LastSeq     atomic.Uint64
}

// Runner runs one route.
type Runner struct {
	r Route
	// srcVendor and srcEntity split Route.From.
	srcVendor, srcEntity string
	bus                  ConsumerSource
	state                RouteState
	log                  *slog.Logger
	Stats                RouteStats
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
	return &Runner{r: r, srcVendor: v, srcEntity: e, bus: bus, state: state, log: log.With("route", r.Name)}, nil
}

// Name is the route's name.
func (ru *Runner) Name() string { return ru.r.Name }

// BackfillConsumer names the consumer through which a route reads its
// source's backfill events (see BackfillSubject), beside the consumer named
// after the route itself for live events.
func BackfillConsumer(route string) string { return route + "_backfill" }

// From is the route's source, "<vendor>.<entity>".
func (ru *Runner) From() string { return ru.r.From }

// Run consumes the route until ctx is cancelled, then finishes the batch in
// flight (bounded by DrainTimeout) and returns nil. It returns an error only
// when the route cannot go on (bus or state unusable).
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
	// has left, so a live event waits at most for one batch in flight.
	// While backfill events are flowing the live fetch does not linger; when
	// there are none, the backfill consumer is only probed now and then.
	var bfActive bool
	var lastProbe time.Time
	for ctx.Err() == nil {
		wait := ru.r.Batch.linger()
		if bfActive {
			wait = 20 * time.Millisecond
		}
		msgs, err := cons.Fetch(ctx, ru.r.Batch.maxObjects(), wait)
		if room := ru.r.Batch.maxObjects() - len(msgs); room > 0 && err == nil && ctx.Err() == nil &&
			(bfActive || time.Since(lastProbe) > 2*time.Second) {
			more, berr := backfill.Fetch(ctx, room, 10*time.Millisecond)
			lastProbe, bfActive = time.Now(), len(more) > 0
			msgs = append(msgs, more...)
			err = berr
		}
		if len(msgs) > 0 {
			pctx, cancel := ru.drainContext(ctx)
			perr := ru.process(pctx, ctx.Done(), msgs)
			cancel()
			if perr != nil {
				return perr
			}
		}
		if err != nil && ctx.Err() == nil {
			ru.log.Warn("fetch failed; retrying", "err", err)
			if !sleepCtx(ctx, time.Second) {
				break
			}
		}
	}
	return nil
}

// drainContext returns a context for one batch that outlives ctx by at most
// DrainTimeout, so a batch in flight at shutdown can finish.
func (ru *Runner) drainContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := ru.r.DrainTimeout
	if d <= 0 {
		d = 30 * time.Second
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(d, cancel)
		context.AfterFunc(pctx, func() { t.Stop() })
	})
	return pctx, func() { stop(); cancel() }
}

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
func (ru *Runner) process(ctx context.Context, stopping <-chan struct{}, msgs []*Message) error {
	ru.Stats.Events.Add(int64(len(msgs)))
	ru.Stats.Batches.Add(1)
	stopBeat := heartbeat(msgs)
	defer stopBeat()
	items := make([]pending, len(msgs))
	var maxSeq uint64
	for i, m := range msgs {
		items[i] = pending{ev: m.Event, seq: m.Seq}
		maxSeq = max(maxSeq, m.Seq)
	}
	if _, err := ru.handle(ctx, stopping, items, maxSeq, false); err != nil {
		// Settle nothing: the bus redelivers, and the ledger makes the
		// rewrite of anything already written a no-op.
		nakAll(msgs)
		if errors.Is(err, errStopped) {
			return nil
		}
		return err
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			ru.log.Warn("ack failed; the event will be redelivered and skipped", "seq", m.Seq, "err", err)
		}
	}
	ru.Stats.LastSeq.Store(maxSeq)
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
	return ru.handle(ctx, nil, items, 0, true)
}

// handle runs events through map, coalesce, sink and settle. redo marks
// events sent again on purpose (dead-letter retries, replays).
func (ru *Runner) handle(ctx context.Context, stopping <-chan struct{}, all []pending, seq uint64, redo bool) (Result, error) {
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
			return res, fmt.Errorf("route %s: %w", ru.r.Name, err)
		}
		for i := range items {
			items[i].key = ids[i]
		}
	}

	recs, err := ru.coalesce(ctx, items, redo)
	if err != nil {
		return res, fmt.Errorf("route %s: %w", ru.r.Name, err)
	}
	res.Records = len(recs)
	outcomes, attempts, werr := ru.write(ctx, stopping, recs)
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
		o := outcomes[i]
		if o.Err != nil {
			dead = append(dead, ru.deadLetter(rec.Key, byKey[rec.Key], codeOf(o.Err), o.Err, attempts[i]))
			continue
		}
		if o.Skip != "" {
			ru.log.Debug("record not written", "record", rec.Key, "reason", o.Skip)
			continue
		}
		if len(rec.Fields) > 0 && ru.log.Enabled(ctx, slog.LevelDebug) {
			ru.log.Debug("record written", "record", rec.Key, "target", o.TargetID, "fields", slices.Sorted(maps.Keys(rec.Fields)))
		}
		ru.settleWritten(&st, rec, o)
	}
	res.DeadLettered, err = ru.state.Settle(ctx, Settlement{
		Links: st.links, Ledger: st.ledger, DeadLetters: dead, Route: ru.r.Name, Seq: seq,
	})
	if err != nil {
		return res, fmt.Errorf("route %s: save state: %w", ru.r.Name, err)
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

// settlement is what one batch writes into the state when it settles, in
// order.
type settlement struct {
	links  []Link
	ledger []LedgerPut
}

func (st *settlement) link(canonicalID string, k Key) {
	st.links = append(st.links, Link{CanonicalID: canonicalID, Key: k})
}

func (st *settlement) putLedger(vendor, entity, key string, e LedgerEntry) {
	st.ledger = append(st.ledger, LedgerPut{Vendor: vendor, Entity: entity, Key: key, Entry: e})
}

func (ru *Runner) settleWritten(st *settlement, rec *Record, o Outcome) {
	to := ru.r.To
	if o.TargetID != "" {
		st.link(rec.Key, Key{Vendor: to.Vendor, Entity: to.Entity, Kind: KindID, Value: o.TargetID})
	}
	for _, k := range o.Links {
		st.link(rec.Key, k)
	}
	if len(rec.Fields) == 0 {
		return
	}
	entry := rec.ledger
	if entry.Fields == nil {
		entry.Fields = map[string]FieldStamp{}
	}
	for f, v := range rec.Fields {
		h := ValueHash(v)
		entry.Fields[f] = FieldStamp{At: rec.Stamps[f], Hash: h, Wrote: addWrote(entry.Fields[f].Wrote, ru.srcVendor+":"+h)}
	}
	entry.ContentHash = ledgerHash(entry.Fields)
	st.putLedger(to.Vendor, to.Entity, rec.Key, entry)
}

// markIntended records, before anything is sent, the values about to be
// written as crmsync's own (FieldStamp.Wrote): the target's poller may
// report them before the batch is settled, and must then already be
// recognised as an echo.
func (ru *Runner) markIntended(ctx context.Context, recs []*Record, todo []int) error {
	if len(todo) == 0 {
		return nil
	}
	var st settlement
	for _, i := range todo {
		r := recs[i]
		if r.ledger.Fields == nil {
			r.ledger.Fields = map[string]FieldStamp{}
		}
		for f, v := range r.Fields {
			fs := r.ledger.Fields[f]
			fs.Wrote = addWrote(fs.Wrote, ru.srcVendor+":"+ValueHash(v))
			r.ledger.Fields[f] = fs
		}
		st.putLedger(ru.r.To.Vendor, ru.r.To.Entity, r.Key, r.ledger)
	}
	return ru.state.PutLedgers(ctx, st.ledger)
}

func addWrote(wrote []string, w string) []string {
	out := append(slices.DeleteFunc(slices.Clone(wrote), func(x string) bool { return x == w }), w)
	if len(out) > MaxWrote {
		out = out[len(out)-MaxWrote:]
	}
	return out
}

// withoutEchoes returns the target fields of an event, leaving out those
// that only carry values the target itself gave the source (crmsync's own
// writes coming back, possibly late and stamped with the source's newer
// change time): they must never turn the target back to an older value.
func (ru *Runner) withoutEchoes(it pending, known LedgerEntry) map[string]string {
	src := it.mapped.SourceFields
	if len(known.Fields) == 0 || len(src) == 0 {
		return it.mapped.Fields
	}
	echo := map[string]bool{}
	for f, v := range src {
		if slices.Contains(known.Fields[f].Wrote, ru.r.To.Vendor+":"+ValueHash(v)) {
			echo[f] = true
		}
	}
	switch {
	case len(echo) == 0:
		return it.mapped.Fields
	case len(echo) == len(src):
		ru.log.Debug("event not written: every field carries crmsync's own earlier write", "event", it.ev.ID)
		return nil
	}
	ru.log.Debug("fields left out: they carry crmsync's own earlier writes", "event", it.ev.ID, "fields", len(echo))
	ev := it.ev
	ev.Fields = make(map[string]string, len(it.ev.Fields))
	for f, v := range it.ev.Fields {
		if !echo[f] {
			ev.Fields[f] = v
		}
	}
	mp, err := ru.r.Mapper.Map(ev)
	if err != nil {
		return it.mapped.Fields
	}
	return mp.Fields
}

// staleAtSource reports whether the source is known to have changed every
// field of an event after the event's change time: the event arrived out of
// order and must not overwrite anything.
func staleAtSource(known LedgerEntry, fields map[string]string, at time.Time) bool {
	if len(fields) == 0 || len(known.Fields) == 0 {
		return false
	}
	for f := range fields {
		st, ok := known.Fields[f]
		if !ok || !newer(lastSeen(st), at) {
			return false
		}
	}
	return true
}

// lastSeen is the latest time at which the source is known to have held
// the field's value.
func lastSeen(st FieldStamp) time.Time {
	if st.Seen.After(st.At) {
		return st.Seen
	}
	return st.At
}

// newer reports whether a is a later change than b. Vendors stamp changes
// to the second (SharpSpring's updateTimestamp, iVvy's modifiedDate) while
// webhook receipts carry sub-second times. Two sub-second times (two
// deliveries, one redelivered after the other was written) are compared
// exactly; otherwise changes within the same second are not ordered and the
// later event wins.
func newer(a, b time.Time) bool {
	if a.Nanosecond() != 0 && b.Nanosecond() != 0 {
		return a.After(b)
	}
	return a.Truncate(time.Second).After(b.Truncate(time.Second))
}

// settleSource records what the source record holds now, so that the
// reverse route recognises it as known and does not write it back.
func (ru *Runner) settleSource(st *settlement, rec *Record) {
	if len(rec.source) == 0 {
		return
	}
	entry := rec.sourceLedger
	fields := make(map[string]FieldStamp, len(entry.Fields)+len(rec.source))
	for f, st := range entry.Fields {
		fields[f] = st
	}
	changed := false
	for f, v := range rec.source {
		at := rec.sourceStamps[f]
		st, known := fields[f]
		if known && lastSeen(st).After(at) {
			continue
		}
		h := ValueHash(v)
		if known && (st.Hash == h || wroteValue(st.Wrote, h)) {
			// The source reports a value crmsync already knows or wrote
			// itself: not a change made at the source's (later) clock. The
			// field keeps the time of the change that produced the value,
			// so that a later change from elsewhere, delayed on its way,
			// still wins over the echo; Seen keeps the source's clock for
			// ordering the source's own events.
			if st.Hash != h || !st.Seen.Equal(at) {
				fields[f] = FieldStamp{At: st.At, Seen: at, Hash: h, Wrote: st.Wrote}
				changed = true
			}
			continue
		}
		fields[f] = FieldStamp{At: at, Hash: h, Wrote: st.Wrote}
		changed = true
	}
	if !changed {
		return
	}
	entry.Fields = fields
	entry.ContentHash = ledgerHash(fields)
	st.putLedger(ru.srcVendor, ru.srcEntity, rec.Key, entry)
}

// wroteValue reports whether crmsync wrote the value with hash h into the
// field (from any vendor).
func wroteValue(wrote []string, h string) bool {
	for _, w := range wrote {
		if strings.HasSuffix(w, ":"+h) {
			return true
		}
	}
	return false
}

func ledgerHash(fields map[string]FieldStamp) string {
	m := make(map[string]string, len(fields))
	for k, v := range fields {
		m[k] = v.Hash
	}
	return FieldsHash(m)
}

// coalesce merges the events of each record, newest value per field, and
// drops fields that are older than, or the same as, what was last written.
func (ru *Runner) coalesce(ctx context.Context, items []pending, redo bool) ([]*Record, error) {
	return ru.coalesceFor(ctx, items, true, !redo)
}

// coalesceFor is coalesce; with dropSame false, fields equal to what the
// ledger says was written are kept (replays compare with the target itself);
// with echoes false, values the target gave the source are kept too
// (retries and replays send known events again on purpose).
func (ru *Runner) coalesceFor(ctx context.Context, items []pending, dropSame, echoes bool) ([]*Record, error) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if !a.ev.ChangedAt.Equal(b.ev.ChangedAt) {
			return a.ev.ChangedAt.Before(b.ev.ChangedAt)
		}
		return a.seq < b.seq
	})
	var keys []string
	seen := map[string]bool{}
	for _, it := range items {
		if !seen[it.key] {
			seen[it.key] = true
			keys = append(keys, it.key)
		}
	}
	srcLedger, err := ru.state.Ledger(ctx, ru.srcVendor, ru.srcEntity, keys)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*Record{}
	var order []string
	for _, it := range items {
		r := byKey[it.key]
		if r == nil {
			r = &Record{Key: it.key, Fields: map[string]string{}, Stamps: map[string]time.Time{}, NaturalKeys: map[string]string{}}
			byKey[it.key] = r
			order = append(order, it.key)
		}
		r.EventIDs = append(r.EventIDs, it.ev.ID)
		at := it.ev.ChangedAt
		if staleAtSource(srcLedger[it.key], it.mapped.SourceFields, at) {
			ru.log.Debug("dropping an event older than what its source already holds", "event", it.ev.ID)
			continue
		}
		fields := it.mapped.Fields
		if echoes {
			fields = ru.withoutEchoes(it, srcLedger[it.key])
		}
		for f, v := range fields {
			r.Fields[f] = v
			r.Stamps[f] = at
		}
		for f, v := range it.mapped.NaturalKeys {
			r.NaturalKeys[f] = v
		}
		for _, f := range it.mapped.CreateOnly {
			if r.createOnly == nil {
				r.createOnly = map[string]bool{}
			}
			r.createOnly[f] = true
		}
		if it.mapped.SourceFields != nil && r.source == nil {
			r.source, r.sourceStamps = map[string]string{}, map[string]time.Time{}
		}
		for f, v := range it.mapped.SourceFields {
			r.source[f] = v
			r.sourceStamps[f] = at
		}
	}
	ids, err := ru.state.VendorKeys(ctx, ru.r.To.Vendor, ru.r.To.Entity, KindID, order)
	if err != nil {
		return nil, err
	}
	ledger, err := ru.state.Ledger(ctx, ru.r.To.Vendor, ru.r.To.Entity, order)
	if err != nil {
		return nil, err
	}
	recs := make([]*Record, 0, len(order))
	for _, k := range order {
		r := byKey[k]
		r.TargetID = ids[k]
		r.sourceLedger = srcLedger[k]
		if r.TargetID != "" {
			// The record exists in the target: fields another vendor owns
			// are not this source's to overwrite.
			for f := range r.createOnly {
				delete(r.Fields, f)
				delete(r.Stamps, f)
			}
		}
		if e, ok := ledger[k]; ok {
			r.ledger = e
			for f, v := range r.Fields {
				st, ok := e.Fields[f]
				if !ok {
					continue
				}
				// An older change never overwrites a newer one; the same
				// value need not be written again (this also drops what a
				// reverse route would echo back: the ledger holds what the
				// target was last seen with, too).
				if newer(st.At, r.Stamps[f]) || (dropSame && st.Hash == ValueHash(v)) {
					if newer(st.At, r.Stamps[f]) {
						ru.log.Debug("field not written: the target holds a newer change", "record", k, "field", f,
							"target_at", st.At, "event_at", r.Stamps[f])
					}
					delete(r.Fields, f)
					delete(r.Stamps, f)
				}
			}
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// write sends records to the sink, retrying transient failures with backoff
// until each record is written or permanently failed. It returns an error
// only when ctx ends first.
func (ru *Runner) write(ctx context.Context, stopping <-chan struct{}, recs []*Record) ([]Outcome, []int, error) {
	outcomes := make([]Outcome, len(recs))
	attempts := make([]int, len(recs))
	var todo []int
	for i, r := range recs {
		if len(r.Fields) == 0 {
			// Nothing newer than what the target holds: no request.
			ru.Stats.Skipped.Add(1)
			outcomes[i] = Outcome{TargetID: r.TargetID}
			continue
		}
		todo = append(todo, i)
	}
	if ru.r.Reverse {
		if err := ru.markIntended(ctx, recs, todo); err != nil {
			return nil, nil, err
		}
	}
	nb := ru.r.NewBackOff
	if nb == nil {
		nb = DefaultBackOff
	}
	bo := nb()
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
				wait = max(wait, time.Until(q.ResetAt))
			}
			var ra *RetryAfterError
			if errors.As(o.Err, &ra) {
				wait = max(wait, ra.After)
			}
		}
		todo = again
		if len(todo) == 0 {
			break
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		ru.Stats.Retries.Add(1)
		d := bo.NextBackOff()
		if d == backoff.Stop {
			return nil, nil, fmt.Errorf("route %s: giving up: %w", ru.r.Name, lastErr)
		}
		if q, ok := IsQuota(lastErr); ok {
			if q.Probe {
				// The sink has said why, in the vendor's terms.
				ru.log.Info("the vendor's daily limit is reached; pausing this route, then one request probes whether it has lifted",
					"probe_at", time.Now().Add(wait).UTC(), "records", len(todo), "err", lastErr)
			} else {
				ru.log.Warn("daily quota spent; pausing this route until the reset", "resume_at", time.Now().Add(wait).UTC(), "err", lastErr)
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
			return nil, nil, fmt.Errorf("route %s: stopped while retrying: %w", ru.r.Name, lastErr)
		}
	}
	return outcomes, attempts, nil
}

// DefaultBackOff is exponential from 200ms to 30s with ±50% jitter and no
// elapsed-time limit: a route retries a transient failure until it heals or
// the process stops.
func DefaultBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 30 * time.Second
	b.MaxElapsedTime = 0
	b.Reset()
	return b
}

func (ru *Runner) deadLetter(key string, evs []Event, code string, err error, attempts int) DeadLetter {
	payload, _ := json.Marshal(evs)
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return DeadLetter{
		Route: ru.r.Name, Vendor: ru.r.To.Vendor, Entity: ru.r.To.Entity, RecordKey: key,
		EventIDs: ids, Payload: payload, Code: code, Message: err.Error(), Attempts: attempts,
	}
}

func codeOf(err error) string {
	var pe *PermanentError
	if errors.As(err, &pe) && pe.Code != "" {
		return pe.Code
	}
	return "permanent"
}

// heartbeat keeps the bus from redelivering messages while a long batch is in
// the sink (retries, rate-limit waits).
func heartbeat(msgs []*Message) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(15 * time.Second)
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

func nakAll(msgs []*Message) {
	for _, m := range msgs {
		_ = m.Nak(time.Second)
	}
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

func sleepCtx(ctx context.Context, d time.Duration) bool {
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
