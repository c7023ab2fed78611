// Package poll holds what the sources' pollers and backfill pagers share:
// polls at an interval, the snapshot pollers of vendors that list records
// without a change time, the defaults of settings left unset, and the
// reading of stored cursors.
package poll

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/snapshots"
)

// Logger is the logger of the source named name: l, or slog.Default() when
// l is nil, with the attribute source=name.
func Logger(l *slog.Logger, name string) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return l.With("source", name)
}

// Every calls step until ctx ends, pausing after each call as long as step
// says, then returns nil.
func Every(ctx context.Context, step func(context.Context) time.Duration) error {
	for ctx.Err() == nil {
		if !pipeline.Sleep(ctx, step(ctx)) {
			break
		}
	}
	return nil
}

// SnapshotResult counts one snapshot's events.
type SnapshotResult struct{ Listed, Created, Changed, Removed int }

// Snapshots publishes the differences between successive snapshots (see
// snapshots.Differ). Poll is serialised; Snapshots is safe for concurrent
// use.
type Snapshots struct {
	diff snapshots.Differ
	mu   sync.Mutex
}

// NewSnapshots returns Snapshots that diff with d.
func NewSnapshots(d snapshots.Differ) *Snapshots { return &Snapshots{diff: d} }

// Poll takes one snapshot with read, which returns the records and how many
// the vendor listed, and publishes the differences.
func (s *Snapshots) Poll(ctx context.Context, read func(context.Context) ([]snapshots.Record, int, error)) (SnapshotResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res SnapshotResult
	n, err := s.diff.Poll(ctx, func(ctx context.Context) ([]snapshots.Record, error) {
		recs, listed, err := read(ctx)
		res.Listed = listed
		return recs, err
	})
	res.Created, res.Changed, res.Removed = n.Created, n.Changed, n.Removed
	return res, err
}

// OrDefault returns v, or def when v is zero or negative: the default of a
// setting that means nothing below one.
func OrDefault[T ~int | ~int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// NoneOrDefault returns def when v is zero (unset), zero when v is
// negative (set to none) and v otherwise: the default of a setting whose
// zero is a value of its own, such as a lag.
func NoneOrDefault[T ~int | ~int64](v, def T) T {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}
