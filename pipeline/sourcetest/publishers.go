package sourcetest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/crmsync/crmsync/pipeline"
)

// Recorder is a pipeline.Publisher that keeps every event it was given, in
// order, and forwards each to Inner first when Inner is set (an event
// Inner refuses is not kept). The zero Recorder keeps without forwarding.
type Recorder struct {
	Inner pipeline.Publisher

	mu  sync.Mutex
	evs []pipeline.Event
}

// Publish forwards ev to Inner, if any, and keeps it.
func (r *Recorder) Publish(ctx context.Context, ev pipeline.Event) error {
	if r.Inner != nil {
		if err := r.Inner.Publish(ctx, ev); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
	return nil
}

// Events returns a copy of what was kept so far.
func (r *Recorder) Events() []pipeline.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.evs)
}

// CrashAfter is a pipeline.Publisher that forwards to Inner and calls
// Cancel, the poll's context, right after the After-th successful publish:
// the process "dies" there. Once the context is done it publishes nothing.
type CrashAfter struct {
	Inner  pipeline.Publisher
	After  int
	Cancel context.CancelFunc

	n atomic.Int64
}

// Publish forwards ev to Inner unless ctx is done.
func (c *CrashAfter) Publish(ctx context.Context, ev pipeline.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.Inner.Publish(ctx, ev); err != nil {
		return err
	}
	if int(c.n.Add(1)) == c.After {
		c.Cancel()
	}
	return nil
}
