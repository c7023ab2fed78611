package sharpspring

import (
	"context"
	"fmt"
	"time"
)

// TimeLayout is the API's "Y-m-d H:i:s" date format. It carries no zone:
// v1.2 reads and writes it in UTC, v1 in the account's Company Profile zone.
const TimeLayout = "2006-01-02 15:04:05"

// Timestamp kinds of getLeadsDateRange.
const (
	TimestampCreate = "create"
	TimestampUpdate = "update"
)

// DateRangeQuery selects leads for GetLeadsDateRange.
type DateRangeQuery struct {
	// Start and End bound the window; both are inclusive at one-second
	// resolution (assumed: undocumented) and are truncated to the second.
	Start, End time.Time
	// Timestamp is TimestampUpdate (default; it includes created leads) or
	// TimestampCreate.
	Timestamp string
	// Zone is the zone the endpoint reads dates in: UTC (default, v1.2) or
	// the Company Profile zone for v1.
	Zone *time.Location
	// Limit is the page size; default 500. SharpSpring documents neither
	// limit nor offset for this method, only 500 objects per request; larger
	// limits are observed to be honoured, but a caller must not rely on it.
	Limit  int
	Offset int
	// Fields restricts the returned fields (system names); default all.
	Fields []string
}

// GetLeadsDateRange calls getLeadsDateRange. Inactive and deleted leads are
// never returned. The order of results is undocumented.
func (c *Client) GetLeadsDateRange(ctx context.Context, q DateRangeQuery) ([]Lead, error) {
	zone := q.Zone
	if zone == nil {
		zone = time.UTC
	}
	ts := q.Timestamp
	if ts == "" {
		ts = TimestampUpdate
	}
	if ts != TimestampUpdate && ts != TimestampCreate {
		return nil, &Error{Method: "getLeadsDateRange", Message: fmt.Sprintf("timestamp %q is neither create nor update", ts)}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 500
	}
	params := map[string]any{
		"startDate": q.Start.In(zone).Format(TimeLayout),
		"endDate":   q.End.In(zone).Format(TimeLayout),
		"timestamp": ts,
		"limit":     limit,
		"offset":    max(q.Offset, 0),
	}
	return c.callLeads(ctx, "getLeadsDateRange", params, q.Fields)
}

// ParseTime reads a "Y-m-d H:i:s" value in zone (nil: UTC), as returned in
// updateTimestamp. During the autumn daylight-saving overlap a v1 local time
// is ambiguous; Go picks the first occurrence.
func ParseTime(s string, zone *time.Location) (time.Time, error) {
	if zone == nil {
		zone = time.UTC
	}
	t, err := time.ParseInLocation(TimeLayout, s, zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("sharpspring: timestamp %q is not Y-m-d H:i:s", s)
	}
	return t.UTC(), nil
}
