package ivvy

import (
	"context"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/ivvy"
)

// Pager pages through iVvy's leads for a backfill (`crmsync backfill
// --source ivvy.lead`). Its cursor is the record offset of the next page.
type Pager struct {
	Client *ivvy.Client
	// PerPage leads per request; default 100.
	PerPage int
	// Since and Until, when set, keep only leads modified in that range.
	Since, Until time.Time
}

func (p *Pager) perPage() int {
	if p.PerPage <= 0 {
		return 100
	}
	return p.PerPage
}

// Page implements pipeline.Pager.
func (p *Pager) Page(ctx context.Context, cursor string) ([]pipeline.Event, string, error) {
	start := 0
	if cursor != "" {
		n, err := parseOffset(cursor)
		if err != nil {
			return nil, "", err
		}
		start = n
	}
	pg, err := p.Client.GetLeadList(ctx, ivvy.ListQuery{PerPage: p.perPage(), Start: start})
	if err != nil {
		return nil, "", err
	}
	evs := make([]pipeline.Event, 0, len(pg.Results))
	for _, l := range pg.Results {
		at := l.Modified()
		if (!p.Since.IsZero() && at.Before(p.Since)) || (!p.Until.IsZero() && at.After(p.Until)) {
			continue
		}
		evs = append(evs, pipeline.Event{Vendor: "ivvy", Entity: "lead", ExternalID: strconv.FormatInt(int64(l.ID), 10),
			Version: norm(l.ModifiedDate), Fields: mappings.IVvyLeadFields(l), ChangedAt: at, Origin: pipeline.OriginBackfill})
	}
	if pg.Done() {
		return evs, "", nil
	}
	return evs, strconv.Itoa(start + len(pg.Results)), nil
}

// Total implements pipeline.Pager with iVvy's totalResults.
func (p *Pager) Total(ctx context.Context) (int64, error) {
	pg, err := p.Client.GetLeadList(ctx, ivvy.ListQuery{PerPage: 1})
	if err != nil {
		return -1, err
	}
	return int64(pg.Meta.TotalResults), nil
}

type pipelineCursorError struct{ cursor string }

func (e *pipelineCursorError) Error() string {
	return "ivvy backfill: stored cursor " + poll.QuoteShort(e.cursor, 120) + " is not a record offset"
}
