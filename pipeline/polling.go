package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// RunPolls is the Run of a polling Source: it calls poll every interval
// until ctx ends, then returns nil. A failed poll is logged on log and
// tried again after interval, or after retryAfter(err) when that is longer
// (the wait a vendor asked for; retryAfter may be nil). It returns an
// error only when the stored cursor cannot be read
// (*UnreadableCursorError): polling again would not mend it.
func RunPolls(ctx context.Context, log *slog.Logger, interval time.Duration, poll func(context.Context) (int, error), retryAfter func(error) time.Duration) error {
	for {
		wait := interval
		_, err := poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if _, ok := errors.AsType[*UnreadableCursorError](err); ok {
				return err
			}
			if retryAfter != nil {
				wait = max(wait, retryAfter(err))
			}
			log.Warn("poll failed; trying again", "in", wait, "err", err)
		}
		if !Sleep(ctx, wait) {
			return nil
		}
	}
}
