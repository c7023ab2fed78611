package connector

import (
	"context"
	"log/slog"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// fieldWatch re-reads SharpSpring's fields on a schedule: a label renamed
// since start-up is a warning, a system name that disappeared is an error
// in the log (writes carrying it dead-letter with SharpSpring's 205 until the
// catalog is fixed and the dead letters retried). It is a pipeline.Source
// that publishes nothing.
type fieldWatch struct {
	c        *sharpspring.Client
	cat      *mappings.Catalog
	types    *sharpspring.FieldTypes // updated on every check
	interval time.Duration
	log      *slog.Logger
}

func (f *fieldWatch) Name() string { return "sharpspring.fields" }

func (f *fieldWatch) Run(ctx context.Context) error {
	return Watch(ctx, f.interval, func(ctx context.Context) ([]string, error) {
		return sharpspring.CheckFields(ctx, f.c, f.cat, f.types)
	}, func(warnings []string, err error) {
		switch {
		case err != nil && isQuota(err):
			f.log.Warn("SharpSpring field check skipped: the daily limit is reached; checking again at the next interval", "err", err)
		case err != nil && isAPIError(err) && apierr.Classify(err) == apierr.Transient:
			f.log.Warn("SharpSpring field check failed; checking again at the next interval", "err", err)
		case err != nil:
			f.log.Error("SharpSpring field check failed: writes of these fields will be dead-lettered", "err", err)
		}
		for _, w := range warnings {
			f.log.Warn(w)
		}
	})
}

// Watch runs check every interval until ctx ends, and calls report with
// its findings (warnings, error) whenever they differ from the last check's:
// each finding is said once, not every interval. It is the loop of the
// vendors' field watches (pipeline.Source values that publish nothing).
func Watch(ctx context.Context, interval time.Duration, check func(context.Context) ([]string, error), report func(warnings []string, err error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		warnings, err := check(ctx)
		if ctx.Err() != nil {
			return nil
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		for _, w := range warnings {
			msg += "\n" + w
		}
		if msg == last {
			continue
		}
		last = msg
		report(warnings, err)
	}
}
