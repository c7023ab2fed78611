package poll

import "time"

// RangeEnd is where a backfill range ends as of now (now nil: time.Now):
// lag before now, or until when it is set and earlier. It is in UTC.
func RangeEnd(now func() time.Time, lag time.Duration, until time.Time) time.Time {
	if now == nil {
		now = time.Now
	}
	end := now().UTC().Add(-lag)
	if !until.IsZero() && until.Before(end) {
		return until.UTC()
	}
	return end
}
