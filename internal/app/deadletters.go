package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/crmsync/crmsync/pipeline"
)

// RetryResult is what became of one retried dead letter.
type RetryResult struct {
	ID       int64
	Resolved bool
	Written  int
	Skipped  int
	NewIDs   []int64 // new dead letters holding the new failure
	Err      error   // the dead letter could not be retried at all
}

// RetryDeadLetters sends the open dead letters selected by f through their
// route again. Written ones become resolved; failing ones become retried,
// with a new entry holding the new failure. Nothing is deleted.
func (a *App) RetryDeadLetters(ctx context.Context, f pipeline.DeadLetterFilter) ([]RetryResult, error) {
	f.Status = pipeline.DeadLetterOpen
	dls, err := a.State.DeadLetters(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]RetryResult, 0, len(dls))
	for _, d := range dls {
		r := RetryResult{ID: d.ID}
		ru, ok := a.Route(d.Route)
		if !ok {
			r.Err = fmt.Errorf("route %q is not in the config", d.Route)
			out = append(out, r)
			continue
		}
		var evs []pipeline.Event
		if err := json.Unmarshal(d.Payload, &evs); err != nil {
			r.Err = fmt.Errorf("payload: %w", err)
			out = append(out, r)
			continue
		}
		for i := range evs {
			evs[i].Origin = pipeline.OriginReplay
		}
		res, err := ru.Apply(ctx, evs)
		if err != nil {
			return out, fmt.Errorf("dead letter %d: %w", d.ID, err)
		}
		r.Written, r.Skipped, r.NewIDs = res.Written, res.Skipped, res.DeadLettered
		r.Resolved = len(res.DeadLettered) == 0
		status := pipeline.DeadLetterRetried
		if r.Resolved {
			status = pipeline.DeadLetterResolved
		}
		if err := a.State.SetDeadLetterStatus(ctx, d.ID, status); err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}
