package sharpspring

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// Defaults of LeadPollerConfig.
const (
	DefaultLeadSource    = "sharpspring.lead"
	DefaultOverlap       = 2 * time.Minute
	DefaultLag           = 30 * time.Second
	DefaultInterval      = time.Minute
	DefaultPageSize      = 500
	DefaultSweepInterval = 24 * time.Hour
	DefaultMaxWindow     = 6 * time.Hour
	// DefaultQuotaProbeInterval is the pause after SharpSpring answers 106.
	DefaultQuotaProbeInterval = time.Hour
)

// LeadAPI is what the lead poller needs from the SharpSpring client
// (*sharpspring.Client implements it).
type LeadAPI interface {
	GetLeadsDateRange(ctx context.Context, q sharpspring.DateRangeQuery) ([]sharpspring.Lead, error)
	GetLeads(ctx context.Context, q sharpspring.GetLeadsQuery) ([]sharpspring.Lead, error)
}

// LeadPollerConfig configures a LeadPoller. Zero values are the defaults.
type LeadPollerConfig struct {
	// Name is the source's name and its cursor key; default
	// "sharpspring.lead". Give each SharpSpring account its own.
	Name string
	// Zone is the zone the endpoint reads and writes "Y-m-d H:i:s" in: UTC
	// for v1.2 (default, recommended), the Company Profile zone for v1.
	Zone *time.Location
	// Overlap is how far each window reaches back behind the previous
	// window's end, to catch late commits and clock skew; default 2m.
	Overlap time.Duration
	// Lag keeps each window's end this far behind now, clear of writes in
	// flight; default 30s.
	Lag time.Duration
	// Interval is the pause between windows once caught up; default 1m.
	Interval time.Duration
	// PageSize is the getLeadsDateRange limit; default 500. SharpSpring
	// accepts more (5000 is used in the wild) at the price of large answers.
	PageSize int
	// MaxWindow bounds one window after a long stop, so a catch-up is done
	// in steps whose events fit in memory; default 6h.
	MaxWindow time.Duration
	// SweepInterval is the time between full sweeps for deactivated and
	// deleted leads; default 24h; negative disables sweeps. The first sweep
	// runs at the first Run and only records which leads exist.
	SweepInterval time.Duration
	// Since is where the very first window starts; default now − Lag −
	// Overlap (only new changes; history is a backfill's job).
	Since time.Time
	// Fields restricts the fields read (system names); default all. When
	// set, "id", "updateTimestamp" and "active" are always added.
	Fields []string
	// QuotaProbeInterval is the pause after SharpSpring answers 106 (daily
	// method call limit reached), whose reset time is not documented: the
	// next poll, after it, is the probe; default 1h.
	QuotaProbeInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c *LeadPollerConfig) defaults() {
	if c.Name == "" {
		c.Name = DefaultLeadSource
	}
	if c.Zone == nil {
		c.Zone = time.UTC
	}
	if c.Overlap <= 0 {
		c.Overlap = DefaultOverlap
	}
	if c.Lag < 0 {
		c.Lag = 0
	} else if c.Lag == 0 {
		c.Lag = DefaultLag
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	if c.MaxWindow <= 0 {
		c.MaxWindow = DefaultMaxWindow
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.QuotaProbeInterval <= 0 {
		c.QuotaProbeInterval = DefaultQuotaProbeInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(c.Fields) > 0 {
		c.Fields = append([]string{"id", "updateTimestamp", "active"}, c.Fields...)
	}
}

// LeadPoller is a pipeline.Source that publishes changed SharpSpring leads.
//
// Each window is getLeadsDateRange (timestamp "update", which includes new
// leads) over [watermark − Overlap, now − Lag]. A full page splits the
// window (into as many parts as the last window's density suggests, then in
// halves); more than a page inside one second is read with offset paging,
// and when the pages overlap (the order is not stable) the second is read
// again in one request with a limit above its count. Leads are deduplicated
// by id keeping the newest updateTimestamp, and their values HTML-unescaped
// before anything is compared or published. The cursor is saved only after
// every event of the window was published.
//
// Deactivated and deleted leads are invisible to the date range; a periodic
// sweep (see Sweep) finds them.
//
// Poll and Sweep are serialised; a LeadPoller is safe for concurrent use.
type LeadPoller struct {
	cfg   LeadPollerConfig
	api   LeadAPI
	pub   pipeline.Publisher
	store pipeline.Cursors
	log   *slog.Logger

	mu   sync.Mutex
	rate float64 // leads per second seen in the last window, for splitting

	stats struct {
		sync.Mutex
		s LeadPollerStats
	}
}

// LeadPollerStats are the poller's counts since it was made.
type LeadPollerStats struct {
	Windows     int // windows fully published
	Published   int // change events published by windows
	Unchanged   int // leads re-read with nothing new (overlap, touches)
	Sweeps      int
	Deactivated int // deactivation events published by sweeps
	Deleted     int // delete events published by sweeps
}

// NewLeadPoller returns a poller reading through api, publishing to pub and
// keeping its cursor in store.
func NewLeadPoller(cfg LeadPollerConfig, api LeadAPI, pub pipeline.Publisher, store pipeline.Cursors) (*LeadPoller, error) {
	if api == nil || pub == nil || store == nil {
		return nil, errors.New("sharpspring lead poller: api, publisher and store are required")
	}
	cfg.defaults()
	return &LeadPoller{cfg: cfg, api: api, pub: pub, store: store, log: cfg.Logger.With("source", cfg.Name)}, nil
}

// Name implements pipeline.Source.
func (p *LeadPoller) Name() string { return p.cfg.Name }

// Stats returns a copy of the counts.
func (p *LeadPoller) Stats() LeadPollerStats {
	p.stats.Lock()
	defer p.stats.Unlock()
	return p.stats.s
}

func (p *LeadPoller) count(f func(*LeadPollerStats)) {
	p.stats.Lock()
	f(&p.stats.s)
	p.stats.Unlock()
}

// Run polls until ctx ends and then returns nil: a sweep when one is due,
// then windows back to back until caught up, then a pause of Interval.
// Failures are logged and retried (with backoff from 1s up to Interval;
// crmsync's own spent daily quota waits for its reset at 00:00 UTC, and
// SharpSpring's 106 waits QuotaProbeInterval, after which the next poll
// probes); a failed window is read again whole, since its cursor was not
// saved.
func (p *LeadPoller) Run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		wait := p.cfg.Interval
		err := p.sweepIfDue(ctx)
		var caughtUp bool
		if err == nil {
			var res PollResult
			res, err = p.Poll(ctx)
			caughtUp = res.CaughtUp
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			wait = p.retryWait(err, failures)
			if isVendorQuota(err) {
				logVendorQuota(p.log, p.cfg.Now(), wait, err)
			} else {
				p.log.Warn("sharpspring lead poll failed; retrying", "in", wait, "err", err)
			}
		default:
			failures = 0
			if !caughtUp {
				continue
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	return nil
}

func (p *LeadPoller) retryWait(err error, failures int) time.Duration {
	if q, ok := pipeline.IsQuota(err); ok {
		return max(time.Until(q.ResetAt), time.Second)
	}
	if isVendorQuota(err) {
		// SharpSpring does not document when its daily limit resets.
		return p.cfg.QuotaProbeInterval
	}
	d := time.Second << min(failures-1, 10)
	return min(d, max(p.cfg.Interval, time.Second))
}

// isVendorQuota reports whether err is SharpSpring's own 106 answer (as
// opposed to crmsync's daily budget running out, a *pipeline.QuotaError).
func isVendorQuota(err error) bool {
	var se *sharpspring.Error
	return errors.As(err, &se) && se.Class() == apierr.Quota
}

// logVendorQuota says why a poller pauses after a 106.
func logVendorQuota(log *slog.Logger, now time.Time, wait time.Duration, err error) {
	log.Warn("SharpSpring reported its daily method call limit reached (error 106); its reset time is not documented: "+
		"polls pause until probe_at, then one poll probes whether the limit has lifted",
		"probe_at", now.Add(wait).UTC(), "probe_in", wait, "err", err)
}

func (p *LeadPoller) sweepIfDue(ctx context.Context) error {
	if p.cfg.SweepInterval < 0 {
		return nil
	}
	cur, err := p.load(ctx)
	if err != nil {
		return err
	}
	if cur.SweptAt != "" {
		at, err := time.Parse(time.RFC3339, cur.SweptAt)
		if err == nil && p.cfg.Now().Sub(at) < p.cfg.SweepInterval {
			return nil
		}
	}
	_, err = p.Sweep(ctx)
	return err
}

func (p *LeadPoller) load(ctx context.Context) (leadCursor, error) {
	s, _, err := p.store.Cursor(ctx, p.cfg.Name)
	if err != nil && !errors.Is(err, pipeline.ErrNotFound) {
		return leadCursor{}, fmt.Errorf("%s: read cursor: %w", p.cfg.Name, err)
	}
	return decodeLeadCursor(s)
}

func (p *LeadPoller) save(ctx context.Context, c leadCursor) error {
	s, err := c.encode()
	if err != nil {
		return err
	}
	return p.store.SetCursor(ctx, p.cfg.Name, s)
}

// PollResult describes one window.
type PollResult struct {
	Start, End time.Time // the window, UTC, both inclusive; zero when nothing was due
	Read       int       // distinct leads read
	Published  int       // events published
	CaughtUp   bool      // the window reached now − Lag
}

// Poll reads and publishes one window and then saves the cursor. It
// returns without saving anything when a read or a publish fails; the next
// Poll reads the same window again and the bus drops what was already
// published (same event ids).
func (p *LeadPoller) Poll(ctx context.Context) (PollResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur, err := p.load(ctx)
	if err != nil {
		return PollResult{}, err
	}
	now := p.cfg.Now().UTC()
	limit := now.Add(-p.cfg.Lag).Truncate(time.Second)
	var start time.Time
	if cur.Watermark != "" {
		wm, err := sharpspring.ParseTime(cur.Watermark, time.UTC)
		if err != nil {
			return PollResult{}, fmt.Errorf("%s: cursor: %w", p.cfg.Name, err)
		}
		if !limit.After(wm) {
			return PollResult{CaughtUp: true}, nil
		}
		start = wm.Add(-p.cfg.Overlap)
	} else if !p.cfg.Since.IsZero() {
		start = p.cfg.Since.UTC().Truncate(time.Second)
	} else {
		start = limit.Add(-p.cfg.Overlap)
	}
	end, caughtUp := limit, true
	if end.Sub(start) > p.cfg.MaxWindow {
		end, caughtUp = start.Add(p.cfg.MaxWindow).Truncate(time.Second), false
	}
	res := PollResult{Start: start, End: end, CaughtUp: caughtUp}

	leads := map[int64]sharpspring.Lead{}
	if err := p.collect(ctx, start, end, leads); err != nil {
		return res, err
	}
	res.Read = len(leads)
	if secs := end.Sub(start).Seconds() + 1; secs > 0 {
		p.rate = float64(len(leads)) / secs
	}

	if cur.Recent == nil {
		cur.Recent = map[string]recentLead{}
	}
	known, err := decodeIDs(cur.Known)
	if err != nil {
		return res, err
	}
	var evs []pipeline.Event
	var recents []recentLead
	unchanged := 0
	for id, l := range leads {
		ev, ts, err := p.leadEvent(l)
		if err != nil {
			return res, err
		}
		key := strconv.FormatInt(id, 10)
		h := pipeline.FieldsHash(ev.Fields)
		if r, ok := cur.Recent[key]; ok && (r.Hash == h || r.TS > ts) {
			// Re-read from the overlap, or touched without a change, or
			// older than what was published (cannot happen with one clock).
			unchanged++
			continue
		}
		evs = append(evs, ev)
		recents = append(recents, recentLead{TS: ts, Hash: h})
	}
	order := make([]int, len(evs))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		ea, eb := evs[order[a]], evs[order[b]]
		if !ea.ChangedAt.Equal(eb.ChangedAt) {
			return ea.ChangedAt.Before(eb.ChangedAt)
		}
		return ea.ExternalID < eb.ExternalID
	})
	for _, i := range order {
		if err := p.pub.Publish(ctx, evs[i]); err != nil {
			return res, fmt.Errorf("%s: publish lead %s: %w", p.cfg.Name, evs[i].ExternalID, err)
		}
		res.Published++
	}

	// Every event is on the bus: move the cursor.
	for i, ev := range evs {
		cur.Recent[ev.ExternalID] = recents[i]
		id, _ := strconv.ParseInt(ev.ExternalID, 10, 64)
		known[id] = true
	}
	keep := end.Add(-p.cfg.Overlap).Format(sharpspring.TimeLayout)
	for k, r := range cur.Recent {
		if r.TS < keep {
			delete(cur.Recent, k)
		}
	}
	cur.Watermark = end.Format(sharpspring.TimeLayout)
	cur.Known = encodeIDs(known)
	if err := p.save(ctx, cur); err != nil {
		return res, fmt.Errorf("%s: save cursor: %w", p.cfg.Name, err)
	}
	p.count(func(s *LeadPollerStats) { s.Windows++; s.Published += res.Published; s.Unchanged += unchanged })
	return res, nil
}

// leadEvent builds the change event of a lead (see newLeadEvent).
func (p *LeadPoller) leadEvent(l sharpspring.Lead) (pipeline.Event, string, error) {
	ev, ts, err := newLeadEvent(l, p.cfg.Zone, pipeline.OriginLive)
	if err != nil {
		return pipeline.Event{}, "", fmt.Errorf("%s: %w", p.cfg.Name, err)
	}
	return ev, ts, nil
}

// newLeadEvent builds the sealed change event of a lead read in zone:
// values HTML-unescaped, updateTimestamp moved to ChangedAt and Version (UTC
// "Y-m-d H:i:s", so v1 and v1.2 give the same event id). It also returns
// that Version. The poller, the sweep and the backfill pager all build their
// lead events here, so one lead state has one event id whoever read it.
func newLeadEvent(l sharpspring.Lead, zone *time.Location, origin pipeline.Origin) (pipeline.Event, string, error) {
	t, err := sharpspring.ParseTime(l["updateTimestamp"], zone)
	if err != nil {
		return pipeline.Event{}, "", fmt.Errorf("lead %s: %w", l["id"], err)
	}
	ts := t.Format(sharpspring.TimeLayout)
	fields := make(map[string]string, len(l))
	for k, v := range l {
		switch k {
		case "id", "updateTimestamp", "createTimestamp":
			continue
		}
		fields[k] = html.UnescapeString(v)
	}
	ev := pipeline.Event{
		Vendor: "sharpspring", Entity: "lead", ExternalID: strconv.FormatInt(l.ID(), 10),
		Op: pipeline.OpUpsert, Version: ts, Fields: fields, ChangedAt: t, Origin: origin,
	}
	if err := ev.Seal(); err != nil {
		return pipeline.Event{}, "", err
	}
	return ev, ts, nil
}

// collect reads every lead of [start, end] into out, newest
// updateTimestamp per id.
func (p *LeadPoller) collect(ctx context.Context, start, end time.Time, out map[int64]sharpspring.Lead) error {
	span := end.Sub(start)/time.Second + 1
	// Split up front when the last window's density says one page will not
	// do: a full page that is thrown away costs a request for nothing.
	if parts := int(math.Ceil(p.rate * float64(span) / (0.7 * float64(p.cfg.PageSize)))); parts > 1 && span > 1 {
		return p.split(ctx, start, end, min(parts, int(span)), out)
	}
	return p.window(ctx, start, end, out)
}

// window reads [start, end]; a full page splits it in halves, down to one
// second.
func (p *LeadPoller) window(ctx context.Context, start, end time.Time, out map[int64]sharpspring.Lead) error {
	page, err := p.page(ctx, start, end, p.cfg.PageSize, 0)
	if err != nil {
		return err
	}
	if len(page) < p.cfg.PageSize {
		merge(out, page)
		return nil
	}
	if end.After(start) {
		return p.split(ctx, start, end, 2, out)
	}
	return p.second(ctx, start, page, out)
}

// split reads [start, end] as parts disjoint sub-windows of whole seconds.
func (p *LeadPoller) split(ctx context.Context, start, end time.Time, parts int, out map[int64]sharpspring.Lead) error {
	secs := int64(end.Sub(start)/time.Second) + 1
	from := start
	for i := int64(0); i < int64(parts); i++ {
		to := start.Add(time.Duration(secs*(i+1)/int64(parts)-1) * time.Second)
		if to.Before(from) {
			continue
		}
		if err := p.window(ctx, from, to, out); err != nil {
			return err
		}
		from = to.Add(time.Second)
	}
	return nil
}

// second reads one second holding more leads than a page (see readSecond).
func (p *LeadPoller) second(ctx context.Context, at time.Time, first []sharpspring.Lead, out map[int64]sharpspring.Lead) error {
	read := func(ctx context.Context, limit, offset int) ([]sharpspring.Lead, error) {
		return p.page(ctx, at, at, limit, offset)
	}
	return readSecond(ctx, p.cfg.PageSize, first, read, out, p.log.With("second", at))
}

// readSecond reads one second of a date range that holds more leads than a
// page, first being its first page. Offset paging cannot be trusted here:
// a lead of that second changed between two pages leaves the second (its
// updateTimestamp moves on) and every later lead shifts down one place, so
// the next page starts one lead too far and that lead is never read, with
// no duplicate to give it away; a deleted lead does the same. The second is
// read in one request instead, with a limit above everything it holds
// (getLeadsDateRange accepts limits above 500), doubled until the answer
// is not full.
func readSecond(ctx context.Context, pageSize int, first []sharpspring.Lead,
	read func(ctx context.Context, limit, offset int) ([]sharpspring.Lead, error), out map[int64]sharpspring.Lead, log *slog.Logger) error {
	merge(out, first)
	if len(first) < pageSize {
		return nil
	}
	log.Debug("more leads in one second than a page; reading the second in one request", "page", pageSize)
	for limit := 2 * pageSize; ; limit *= 2 {
		pg, err := read(ctx, limit, 0)
		if err != nil {
			return err
		}
		if len(pg) < limit {
			merge(out, pg)
			return nil
		}
	}
}

func (p *LeadPoller) page(ctx context.Context, start, end time.Time, limit, offset int) ([]sharpspring.Lead, error) {
	return p.api.GetLeadsDateRange(ctx, sharpspring.DateRangeQuery{
		Start: start, End: end, Timestamp: sharpspring.TimestampUpdate, Zone: p.cfg.Zone,
		Limit: limit, Offset: offset, Fields: p.cfg.Fields,
	})
}

// merge adds leads to out, keeping the newest updateTimestamp per id. The
// format compares as text; v1 local times compare correctly except in the
// autumn daylight-saving overlap.
func merge(out map[int64]sharpspring.Lead, page []sharpspring.Lead) {
	for _, l := range page {
		id := l.ID()
		if old, ok := out[id]; ok && old["updateTimestamp"] > l["updateTimestamp"] {
			continue
		}
		out[id] = l
	}
}
