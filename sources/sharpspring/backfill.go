package sharpspring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"sort"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// HistoryStart is where a backfill without Since starts: before any
// SharpSpring account existed, so the first window holds every lead.
var HistoryStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrBadBackfillCursor says a stored backfill cursor is not one LeadPager
// wrote: the run cannot resume from it.
var ErrBadBackfillCursor = errors.New("not a sharpspring lead backfill cursor")

// LeadPager pages through SharpSpring's leads for a backfill (`crmsync
// backfill --source sharpspring.lead`). It implements pipeline.Pager.
//
// # Order and cursor
//
// SharpSpring documents no order for getLeads or getLeadsDateRange and no
// total count, so offset paging over the lead list can skip or repeat leads
// while the account changes. The pager therefore walks creation time:
// getLeadsDateRange with timestamp "create" over consecutive windows of
// whole seconds, oldest first. A lead's creation time never changes, so a
// lead never moves between windows: an update during the run leaves it
// where it was, and a lead created during the run lands in a later window
// (or after the run's end). Every window is read in one request: a page
// that comes back full is thrown away and the window narrowed until it
// fits (halving the distance to the full window's end, a binary search
// whose bound the cursor keeps across pages); the next window is sized from
// the density of the last. Only a single second holding a page or more is
// read with offsets, and proven complete with getLeads by id (see
// busySecond); no request asks for more than 500 leads.
//
// The cursor is the keyed position "every lead created before this second
// is published" plus sizing hints (the next window's width, the end of a
// window known to be full), JSON with a version. It never holds an offset,
// so nothing created, updated or deleted elsewhere in the account can
// shift it.
//
// # Range
//
// Since and Until select leads by creation time (inclusive, at one-second
// resolution), not by update time: creation time is what keeps pages
// stable, and changes after a lead was created are the live poller's.
// Leads are published with their current fields and updateTimestamp, as
// the live poller would publish them, so backfilled and live events of one
// lead state share an event id. Without Until, or with Until after now −
// Lag, the run ends at now − Lag as of its last page: later leads are the
// live poller's.
//
// Inactive and deleted leads are not in getLeadsDateRange and are not
// backfilled (the live poller's sweep reports deactivations).
//
// Every request goes through the API client, and so through its Gate.
type LeadPager struct {
	API LeadAPI
	// Since and Until bound the leads' creation time; zero means open.
	Since, Until time.Time
	// Zone is the zone the endpoint reads and writes "Y-m-d H:i:s" in: UTC
	// for v1.2 (default), the Company Profile zone for v1.
	Zone *time.Location
	// PageSize is the getLeadsDateRange limit; default and maximum 500.
	PageSize int
	// Lag keeps the run's end this far behind now, clear of leads still
	// being committed; default 30s (DefaultLag).
	Lag time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	busy *busySecond // the busy second being read, kept across a failed request
}

func (p *LeadPager) zone() *time.Location {
	if p.Zone == nil {
		return time.UTC
	}
	return p.Zone
}

func (p *LeadPager) pageSize() int {
	if p.PageSize <= 0 || p.PageSize > sharpspring.MaxObjects {
		return sharpspring.MaxObjects
	}
	return p.PageSize
}

func (p *LeadPager) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// start is the first creation second of the range.
func (p *LeadPager) start() time.Time {
	if p.Since.IsZero() {
		return HistoryStart
	}
	return p.Since.UTC().Truncate(time.Second)
}

// end is the last creation second of the range as of now.
func (p *LeadPager) end() time.Time {
	return poll.RangeEnd(p.Now, poll.NoneOrDefault(p.Lag, DefaultLag), p.Until).Truncate(time.Second)
}

// Page implements pipeline.Pager: it publishes nothing itself, it returns
// the events of the leads created in the next window and the cursor after
// it ("" once the window reached the end of the range). A cursor the pager
// did not write gives an error wrapping ErrBadBackfillCursor.
func (p *LeadPager) Page(ctx context.Context, cursor string) ([]pipeline.Event, string, error) {
	cur, err := p.decode(cursor)
	if err != nil {
		return nil, "", err
	}
	end := p.end()
	if cur.next.After(end) {
		return nil, "", nil
	}
	width := cur.width
	if width <= 0 {
		width = min(end.Sub(cur.next), maxWidth) + time.Second
	}
	full := cur.full // a window ending here held a page or more
	if full.Before(cur.next) {
		full = time.Time{}
	}
	size := p.pageSize()
	leads := map[int64]sharpspring.Lead{}
	var to time.Time
	for {
		to = cur.next.Add(width - time.Second)
		if !full.IsZero() && !to.Before(full) {
			// Halve the distance to the known full window rather than read
			// it again: a binary search for the first window that fits.
			to = cur.next.Add((full.Sub(cur.next) / 2).Truncate(time.Second))
		}
		if to.After(end) {
			to = end
		}
		page, err := p.read(ctx, cur.next, to, size, 0)
		if err != nil {
			return nil, "", err
		}
		if len(page) < size {
			merge(leads, page)
			break
		}
		if !to.After(cur.next) {
			got, err := p.second(ctx, cur.next, size, page)
			if err != nil {
				return nil, "", err
			}
			for id, l := range got {
				leads[id] = l
			}
			break
		}
		// Full: some leads of the window did not fit. Read a narrower one.
		full = to
	}

	ids := make([]int64, 0, len(leads))
	for id := range leads {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	evs := make([]pipeline.Event, 0, len(ids))
	for _, id := range ids {
		ev, _, err := newLeadEvent(leads[id], p.zone(), pipeline.OriginBackfill)
		if err != nil {
			return nil, "", fmt.Errorf("sharpspring lead backfill: %w", err)
		}
		evs = append(evs, ev)
	}
	if !to.Before(end) {
		return evs, "", nil
	}
	span := to.Sub(cur.next) + time.Second
	next := backfillCursor{next: to.Add(time.Second), width: nextWidth(span, len(leads), size)}
	if len(leads) == 0 && full.After(to) {
		// Still searching for where the leads start: keep the bound. Once a
		// page held leads, its density sizes the next window better.
		next.full = full
	}
	return evs, next.encode(), nil
}

// second reads one creation second holding a page of leads or more (see
// busySecond); what was read of it is kept across a failed request. A
// lead's creation time never changes, so a lead leaves the second only by
// being deactivated or deleted.
func (p *LeadPager) second(ctx context.Context, at time.Time, size int, first []sharpspring.Lead) (map[int64]sharpspring.Lead, error) {
	p.busy = p.busy.resume(at, size, first, p.logger())
	leads, err := p.busy.read(ctx, busyCalls{
		page: func(ctx context.Context, limit, offset int) ([]sharpspring.Lead, error) {
			return p.read(ctx, at, at, limit, offset)
		},
		api:     p.API,
		stillIn: func(l sharpspring.Lead) bool { return html.UnescapeString(l["active"]) == "1" },
	})
	if err != nil {
		return nil, fmt.Errorf("sharpspring lead backfill: %w", err)
	}
	p.busy = nil
	return leads, nil
}

// nextWidth sizes the next window from the density of the last one: about
// 70% of a page, so a page rarely comes back full, growing at most 8-fold
// and to at most maxWidth.
func nextWidth(span time.Duration, n, pageSize int) time.Duration {
	grown := maxWidth
	if span < maxWidth/8 {
		grown = span * 8
	}
	if n == 0 {
		return grown
	}
	w := float64(span) * 0.7 * float64(pageSize) / float64(n)
	if w >= float64(grown) {
		return grown
	}
	return max(time.Duration(w).Truncate(time.Second), time.Second)
}

func (p *LeadPager) read(ctx context.Context, start, end time.Time, limit, offset int) ([]sharpspring.Lead, error) {
	leads, err := p.API.GetLeadsDateRange(ctx, sharpspring.DateRangeQuery{
		Start: start, End: end, Timestamp: sharpspring.TimestampCreate, Zone: p.zone(), Limit: limit, Offset: offset,
	})
	if err != nil {
		return nil, fmt.Errorf("sharpspring lead backfill: leads created %s..%s: %w",
			start.Format(sharpspring.TimeLayout), end.Format(sharpspring.TimeLayout), err)
	}
	return leads, nil
}

// Total implements pipeline.Pager: the number of active leads, within 1%,
// when the range is open, and -1 when Since or Until is set (SharpSpring
// counts nothing by date). It finds the count by probing getLeads offsets
// (one id per request): one request below 500 leads, about 20 for a
// million.
func (p *LeadPager) Total(ctx context.Context) (int64, error) {
	if !p.Since.IsZero() || !p.Until.IsZero() {
		return -1, nil
	}
	first, err := p.API.GetLeads(ctx, sharpspring.GetLeadsQuery{Limit: sharpspring.MaxObjects, Fields: []string{"id"}})
	if err != nil {
		return -1, err
	}
	if len(first) < sharpspring.MaxObjects {
		return int64(len(first)), nil
	}
	// more(k) reports whether there are more than k active leads.
	more := func(k int) (bool, error) {
		l, err := p.API.GetLeads(ctx, sharpspring.GetLeadsQuery{Limit: 1, Offset: k, Fields: []string{"id"}})
		return len(l) > 0, err
	}
	lo, hi := sharpspring.MaxObjects-1, 2*sharpspring.MaxObjects // count in (lo, hi]
	for {
		ok, err := more(hi)
		if err != nil {
			return -1, err
		}
		if !ok {
			break
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > max(1, lo/100) {
		mid := lo + (hi-lo)/2
		ok, err := more(mid)
		if err != nil {
			return -1, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return int64(hi), nil
}

// backfillCursor is LeadPager's place in the history: every lead created
// before next is published; width is the next window's length; a window
// from next to full (when set) held a page or more when it was read.
type backfillCursor struct {
	next  time.Time
	width time.Duration
	full  time.Time
}

// backfillCursorJSON is the persisted form, guarded by a golden test.
type backfillCursorJSON struct {
	V int `json:"v"`
	// Next is the first creation second not yet published, "Y-m-d H:i:s" UTC.
	Next string `json:"next"`
	// Width is the next window's length in seconds; 0 = up to the end.
	Width int64 `json:"width,omitempty"`
	// Full, when set, is the end of a window from Next that held a page or
	// more, "Y-m-d H:i:s" UTC: the next window ends at most half-way to it.
	Full string `json:"full,omitempty"`
}

const backfillCursorVersion = 1

// maxWidth bounds a window (and the width a cursor may hold).
const maxWidth = 200 * 365 * 24 * time.Hour

func (c backfillCursor) encode() string {
	j := backfillCursorJSON{V: backfillCursorVersion, Next: c.next.UTC().Format(sharpspring.TimeLayout), Width: int64(c.width / time.Second)}
	if !c.full.IsZero() {
		j.Full = c.full.UTC().Format(sharpspring.TimeLayout)
	}
	b, _ := json.Marshal(j)
	return string(b)
}

func (p *LeadPager) decode(s string) (backfillCursor, error) {
	if s == "" {
		return backfillCursor{next: p.start()}, nil
	}
	bad := func(why string) error {
		return poll.BadBackfillCursor("sharpspring lead backfill", s, why, ErrBadBackfillCursor)
	}
	var j backfillCursorJSON
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return backfillCursor{}, bad("not JSON")
	}
	if j.V != backfillCursorVersion {
		return backfillCursor{}, bad(fmt.Sprintf("version %d is not %d", j.V, backfillCursorVersion))
	}
	next, err := sharpspring.ParseTime(j.Next, time.UTC)
	if err != nil {
		return backfillCursor{}, bad("next is not a Y-m-d H:i:s time")
	}
	if j.Width < 0 || j.Width > int64(maxWidth/time.Second) {
		return backfillCursor{}, bad("width is out of range")
	}
	c := backfillCursor{next: next, width: time.Duration(j.Width) * time.Second}
	if j.Full != "" {
		if c.full, err = sharpspring.ParseTime(j.Full, time.UTC); err != nil {
			return backfillCursor{}, bad("full is not a Y-m-d H:i:s time")
		}
	}
	return c, nil
}
