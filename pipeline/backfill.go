package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Pager pages through a source's history, oldest first where the vendor
// allows.
type Pager interface {
	// Page returns the events of the page at cursor ("" = the first) and the
	// cursor of the next page ("" after the last page).
	Page(ctx context.Context, cursor string) (evs []Event, next string, err error)
	// Total estimates how many records the backfill covers, or -1.
	Total(ctx context.Context) (int64, error)
}

// BackfillProgress is where a backfill stands.
type BackfillProgress struct {
	Published int64 // events published so far, over every attempt of the run
	Pages     int64
	Total     int64 // estimated records, -1 when unknown
	Done      bool
}

// Backfill publishes a source's history, page by page, as backfill events,
// saving its place after every page so that a stopped run resumes where it
// was; a finished run does nothing when started again.
type Backfill struct {
	Source       string // "<vendor>.<entity>"
	Since, Until string // the range, as given (part of the run's identity)
	Pager        Pager
	// Publisher stores the events; one that is also a BatchPublisher gets
	// each page in one call.
	Publisher Publisher
	State     BackfillRuns
	// Progress, if set, is called after every page.
	Progress func(BackfillProgress)
}

// ErrBackfillDone says the run had already finished.
var ErrBackfillDone = errors.New("backfill already finished")

// Run pages until the history is published or ctx ends. It returns
// ErrBackfillDone when the run had finished before, and a *QuotaError when
// the vendor budget is spent (the run resumes from its place later).
func (b *Backfill) Run(ctx context.Context) (BackfillProgress, error) {
	run, err := b.State.BackfillRun(ctx, b.Source, b.Since, b.Until)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return BackfillProgress{}, err
	}
	p := BackfillProgress{Published: run.Published, Pages: run.Pages, Done: run.Done, Total: -1}
	if run.Done {
		return p, ErrBackfillDone
	}
	if run.StartedAt.IsZero() {
		run.StartedAt = time.Now()
	}
	if t, err := b.Pager.Total(ctx); err == nil {
		p.Total = t
	}
	if b.Progress != nil {
		b.Progress(p)
	}
	for {
		evs, next, err := b.Pager.Page(ctx, run.Cursor)
		if err != nil {
			return p, fmt.Errorf("backfill %s: page %d: %w", b.Source, run.Pages+1, err)
		}
		if err := b.publish(ctx, evs); err != nil {
			return p, fmt.Errorf("backfill %s: %w", b.Source, err)
		}
		// Every event of the page is on the bus: move the run's place.
		run.Cursor = next
		run.Pages++
		run.Published += int64(len(evs))
		run.Done = next == ""
		if err := b.State.SaveBackfillRun(ctx, run); err != nil {
			return p, err
		}
		p = BackfillProgress{Published: run.Published, Pages: run.Pages, Total: p.Total, Done: run.Done}
		if b.Progress != nil {
			b.Progress(p)
		}
		if run.Done {
			return p, nil
		}
		if err := ctx.Err(); err != nil {
			return p, err
		}
	}
}

// publish seals a page's events as backfill events and returns once the
// bus stored all of them: with one batch when the bus can (BatchPublisher),
// else one event at a time.
func (b *Backfill) publish(ctx context.Context, evs []Event) error {
	for i := range evs {
		evs[i].Origin = OriginBackfill
		if err := evs[i].Seal(); err != nil {
			return err
		}
	}
	if bp, ok := b.Publisher.(BatchPublisher); ok {
		return bp.PublishBatch(ctx, evs)
	}
	for _, ev := range evs {
		if err := b.Publisher.Publish(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}
