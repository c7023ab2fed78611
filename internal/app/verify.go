package app

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// VerifyOptions select what Verify compares.
type VerifyOptions struct {
	Route string
	// Since and Until bound the source records compared, as the route
	// source's history pager selects them (see `crmsync backfill`); zero:
	// the whole history.
	Since, Until time.Time
	// OnPage, if set, is called after each page of the source.
	OnPage func(VerifyProgress)
}

// VerifyProgress is where a comparison stands.
type VerifyProgress struct {
	Pages, Records int64
	Total          int64 // estimated records, -1 when unknown
	Drifted        int
}

// Drift is what a comparison found: the records whose target differs from
// what the route makes of the source now, and the source events that show
// it (repairing writes them again).
type Drift struct {
	Pages, Records int
	Diffs          []pipeline.Diff
	events         map[string][]pipeline.Event // by canonical id
}

// Missing counts the drifted records the target does not have at all.
func (d Drift) Missing() int {
	n := 0
	for _, x := range d.Diffs {
		if x.Missing {
			n++
		}
	}
	return n
}

// Verify pages through the route's source (its history pager, within the
// source account's rate window and outside the live quota reserve) and
// compares every record with what the route's target holds now, field by
// field, through the target's API. It writes nothing: not to the target,
// not to the state. Fields whose newest known change is newer than the
// source record (an edit made in the target that crmsync already knows)
// do not count as drift.
func (a *App) Verify(ctx context.Context, o VerifyOptions) (Drift, error) {
	d := Drift{events: map[string][]pipeline.Event{}}
	ru, ok := a.Route(o.Route)
	if !ok {
		return d, fmt.Errorf("verify: no route %q in the config", o.Route)
	}
	pager, err := a.BackfillPager(ru.From(), o.Since, o.Until)
	if err != nil {
		return d, fmt.Errorf("verify %s: %w", o.Route, err)
	}
	total := int64(-1)
	if o.OnPage != nil {
		if total, err = pager.Total(ctx); err != nil {
			total = -1
		}
	}
	cursor := ""
	for {
		evs, next, err := pager.Page(ctx, cursor)
		if err != nil {
			return d, fmt.Errorf("verify %s: reading %s: %w", o.Route, ru.From(), err)
		}
		for i := range evs {
			evs[i].Origin = pipeline.OriginBackfill
			if err := evs[i].Seal(); err != nil {
				return d, fmt.Errorf("verify %s: %s: %w", o.Route, ru.From(), err)
			}
		}
		res, err := ru.Replay(ctx, evs, true)
		if err != nil {
			return d, fmt.Errorf("verify %s: %w", o.Route, err)
		}
		d.Pages++
		d.Records += res.Records
		if len(res.Diffs) > 0 {
			byID := make(map[string]pipeline.Event, len(evs))
			for _, ev := range evs {
				byID[ev.ID] = ev
			}
			for _, x := range res.Diffs {
				for _, id := range x.EventIDs {
					d.events[x.Key] = append(d.events[x.Key], byID[id])
				}
			}
			d.Diffs = append(d.Diffs, res.Diffs...)
		}
		if o.OnPage != nil {
			o.OnPage(VerifyProgress{Pages: int64(d.Pages), Records: int64(d.Records), Total: total, Drifted: len(d.Diffs)})
		}
		if next == "" {
			break
		}
		cursor = next
	}
	slices.SortFunc(d.Diffs, func(x, y pipeline.Diff) int {
		switch {
		case x.Key < y.Key:
			return -1
		case x.Key > y.Key:
			return 1
		}
		return 0
	})
	return d, nil
}

// Repair writes again the records of a drift that still differ in exactly
// the same way now (an edit on its way through a poller changes the
// difference or removes it, and is left alone): the target gets the
// fields that differ, the normal way (batches, ledger, dead letters). It
// returns the records written.
func (a *App) Repair(ctx context.Context, route string, d Drift) (int, error) {
	ru, ok := a.Route(route)
	if !ok {
		return 0, fmt.Errorf("repair: no route %q in the config", route)
	}
	var evs []pipeline.Event
	for _, id := range slices.Sorted(maps.Keys(d.events)) {
		evs = append(evs, d.events[id]...)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	now, err := ru.Replay(ctx, evs, true)
	if err != nil {
		return 0, fmt.Errorf("repair %s: %w", route, err)
	}
	before := map[string]pipeline.Diff{}
	for _, x := range d.Diffs {
		before[x.Key] = x
	}
	var still []pipeline.Event
	for _, x := range now.Diffs {
		if b, ok := before[x.Key]; ok && b.Missing == x.Missing && reflect.DeepEqual(b.Fields, x.Fields) {
			still = append(still, d.events[x.Key]...)
		}
	}
	if len(still) == 0 {
		return 0, nil
	}
	res, err := ru.Replay(ctx, still, false)
	if err != nil {
		return res.Written, fmt.Errorf("repair %s: %w", route, err)
	}
	return res.Written, nil
}

// driftStats count what reconciliation found and repaired on one route.
type driftStats struct {
	fields, missing, repaired atomic.Int64
	passes                    atomic.Int64
	mu                        sync.Mutex
	lastPass                  time.Time
	lastErr                   string
}

// reconciler runs a route's reconciliation on a schedule: a comparison of
// the whole source with the target (Verify), and, after a grace period
// that lets edits on their way through pollers land, a repair of what
// still differs the same way.
type reconciler struct {
	a     *App
	route string
	every time.Duration
	grace time.Duration
	stats *driftStats
}

// buildReconcilers adds a reconciler for every route with reconcile on. It
// runs like a poller (one instance at a time when instances share state).
func (a *App) buildReconcilers() error {
	for i, rc := range a.cfg.Routes {
		if rc.Reconcile.Interval <= 0 {
			continue
		}
		if !slices.Contains(BackfillSources(), rc.From) {
			return fmt.Errorf("routes[%d].reconcile: %s has no history pager to compare from (it can reconcile from: %v)", i, rc.From, BackfillSources())
		}
		if ru, ok := a.Route(rc.Name); ok && !ru.CanRead() {
			return fmt.Errorf("routes[%d].reconcile: %w", i, pipeline.ErrNoReader)
		}
		if a.drift == nil {
			a.drift = map[string]*driftStats{}
		}
		st := &driftStats{}
		a.drift[rc.Name] = st
		a.Sources = append(a.Sources, &reconciler{a: a, route: rc.Name, every: rc.Reconcile.Interval.Std(),
			grace: rc.Reconcile.Grace.Std(), stats: st})
	}
	return nil
}

func (r *reconciler) Name() string { return "reconcile:" + r.route }

// Run passes once every interval, the first a full interval after start.
func (r *reconciler) Run(ctx context.Context) error {
	return everyTick(ctx, r.every, func() { r.pass(ctx) })
}

func (r *reconciler) pass(ctx context.Context) {
	log := r.a.log.With("route", r.route)
	d, err := r.a.Verify(ctx, VerifyOptions{Route: r.route})
	repaired := 0
	if err == nil && len(d.Diffs) > 0 {
		log.Warn("reconciliation found records that differ from their source", "records", len(d.Diffs),
			"missing", d.Missing(), "compared", d.Records, "repair_in", r.grace)
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.grace):
		}
		repaired, err = r.a.Repair(ctx, r.route, d)
	}
	if ctx.Err() != nil {
		return
	}
	s := r.stats
	s.passes.Add(1)
	s.missing.Add(int64(d.Missing()))
	s.fields.Add(int64(len(d.Diffs) - d.Missing()))
	s.repaired.Add(int64(repaired))
	s.mu.Lock()
	s.lastPass = time.Now()
	s.lastErr = ""
	if err != nil {
		s.lastErr = err.Error()
	}
	s.mu.Unlock()
	if err != nil {
		log.Error("reconciliation failed; the next pass tries again", "err", err)
		return
	}
	log.Info("reconciliation pass done", "compared", d.Records, "drifted", len(d.Diffs), "repaired", repaired)
}
