package sharpspring

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/poll"
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
	// PageSize is the getLeadsDateRange limit; default and maximum 500
	// (larger values are taken as 500). SharpSpring documents at most 500
	// objects per request; that it honours larger limits is only observed,
	// and a limit capped in silence would make a short page look complete.
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
	c.Name = cmp.Or(c.Name, DefaultLeadSource)
	if c.Zone == nil {
		c.Zone = time.UTC
	}
	c.Overlap = poll.OrDefault(c.Overlap, DefaultOverlap)
	c.Lag = poll.NoneOrDefault(c.Lag, DefaultLag)
	c.Interval = poll.OrDefault(c.Interval, DefaultInterval)
	if c.PageSize <= 0 || c.PageSize > sharpspring.MaxObjects {
		c.PageSize = DefaultPageSize
	}
	c.MaxWindow = poll.OrDefault(c.MaxWindow, DefaultMaxWindow)
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	c.QuotaProbeInterval = poll.OrDefault(c.QuotaProbeInterval, DefaultQuotaProbeInterval)
	if c.Now == nil {
		c.Now = time.Now
	}
	if len(c.Fields) > 0 {
		c.Fields = append([]string{"id", "updateTimestamp", "active"}, c.Fields...)
	}
}

// LeadPoller is a pipeline.Source that publishes changed SharpSpring leads.
//
// Each window is getLeadsDateRange (timestamp "update", which includes new
// leads) over [watermark − Overlap, now − Lag], never asking for more than
// 500 leads a request. A full page splits the window (into as many parts as
// the last window's density suggests, then in halves); a page or more
// inside one second is read as busySecond describes. Leads are deduplicated
// by id keeping the newest updateTimestamp, and their values HTML-unescaped
// before anything is compared or published. The window is published part
// by part, oldest first, and the cursor records after each part how far
// the window is done, so a failed request is the only one repeated: with
// other clients spending the account's rate, every request that gets
// through is progress.
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
	// todo holds the parts of the current window still to read and busy
	// the busy second being read (see busySecond), so that going on after a
	// failed request starts with that request.
	todo []span
	busy *busySecond

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
	return &LeadPoller{cfg: cfg, api: api, pub: pub, store: store, log: poll.Logger(cfg.Logger, cfg.Name)}, nil
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
// Failures are logged and retried (with backoff from 1s up to Interval,
// jittered when SharpSpring asked to slow down (107); crmsync's own spent
// daily quota waits for its reset at 00:00 UTC, and SharpSpring's 106
// waits QuotaProbeInterval, after which the next poll probes). A failed
// window goes on from the first part it had not published, and a poll that
// got further before failing starts the backoff over: with other clients
// spending the account's rate, a 107 now and then is no reason to slow
// down further.
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
			if !res.Through.IsZero() {
				failures = 0
			}
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
		if !pipeline.Sleep(ctx, wait) {
			return nil
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
	d := min(time.Second<<min(failures-1, 10), max(p.cfg.Interval, time.Second))
	if apierr.Classify(err) == apierr.RateLimited {
		// At least a second (the limit is per second), jittered so that
		// clients refused in the same second do not all come back together.
		d += rand.N(d/2 + 1)
	}
	return d
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

// PollResult describes one window, or the part of it one Poll read.
type PollResult struct {
	Start, End time.Time // the window, UTC, both inclusive; zero when nothing was due
	// Through is the last second of the window whose events are all
	// published and recorded in the cursor: End once the window is done,
	// zero when a failed Poll got nowhere.
	Through   time.Time
	Read      int  // leads read (distinct within each part)
	Published int  // events published
	CaughtUp  bool // the window reached now − Lag
}

// Poll reads and publishes one window, part by part in time order: after
// each page (or busy second) is published, the cursor records the window
// as done up to there. A failed read or publish returns at once; the next
// Poll goes on with the same window from the first part not recorded, so
// only the failed request is repeated (the bus drops what a part published
// before a failure to save the cursor: same event ids).
func (p *LeadPoller) Poll(ctx context.Context) (PollResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur, err := p.load(ctx)
	if err != nil {
		return PollResult{}, err
	}
	now := p.cfg.Now().UTC()
	limit := now.Add(-p.cfg.Lag).Truncate(time.Second)
	var start, end, from time.Time
	caughtUp := true
	switch {
	case cur.Window != nil:
		// A window stopped part-way: go on from its first unread second.
		start, end, from, err = cur.Window.times()
		if err != nil {
			return PollResult{}, fmt.Errorf("%s: cursor: %w", p.cfg.Name, err)
		}
		caughtUp = !end.Before(limit)
	case cur.Watermark != "":
		wm, err := sharpspring.ParseTime(cur.Watermark, time.UTC)
		if err != nil {
			return PollResult{}, fmt.Errorf("%s: cursor: %w", p.cfg.Name, err)
		}
		if !limit.After(wm) {
			return PollResult{CaughtUp: true}, nil
		}
		start = wm.Add(-p.cfg.Overlap)
	case !p.cfg.Since.IsZero():
		start = p.cfg.Since.UTC().Truncate(time.Second)
	default:
		start = limit.Add(-p.cfg.Overlap)
	}
	if cur.Window == nil {
		from, end = start, limit
		if end.Sub(start) > p.cfg.MaxWindow {
			end, caughtUp = start.Add(p.cfg.MaxWindow).Truncate(time.Second), false
		}
	}
	res := PollResult{Start: start, End: end, CaughtUp: caughtUp}

	if cur.Recent == nil {
		cur.Recent = map[string]recentLead{}
	}
	known, err := decodeIDs(cur.Known)
	if err != nil {
		return res, err
	}
	// publish publishes the leads of [from, through] and records the
	// window as done through there.
	publish := func(leads map[int64]sharpspring.Lead, through time.Time) error {
		n, unchanged, err := p.publish(ctx, leads, &cur, known)
		res.Read += len(leads)
		res.Published += n
		p.count(func(s *LeadPollerStats) { s.Published += n; s.Unchanged += unchanged })
		if err != nil {
			return err
		}
		next := through.Add(time.Second)
		cur.Window = newWindowProgress(start, end, next)
		// What was published for the parts done is not needed again: they
		// are not read again, and the next window re-reads only the overlap.
		pruneRecent(cur.Recent, minTime(next, end.Add(-p.cfg.Overlap)))
		cur.Known = encodeIDs(known)
		if err := p.save(ctx, cur); err != nil {
			return fmt.Errorf("%s: save cursor: %w", p.cfg.Name, err)
		}
		res.Through = through
		return nil
	}
	if !from.After(end) {
		if err := p.collect(ctx, from, end, publish); err != nil {
			return res, err
		}
	}
	if secs := end.Sub(from).Seconds() + 1; secs > 0 {
		p.rate = float64(res.Read) / secs
	}

	// Every event of the window is on the bus: move the watermark.
	pruneRecent(cur.Recent, end.Add(-p.cfg.Overlap))
	cur.Watermark = end.Format(sharpspring.TimeLayout)
	cur.Window = nil
	cur.Known = encodeIDs(known)
	if err := p.save(ctx, cur); err != nil {
		return res, fmt.Errorf("%s: save cursor: %w", p.cfg.Name, err)
	}
	res.Through = end
	p.count(func(s *LeadPollerStats) { s.Windows++ })
	return res, nil
}

// pruneRecent drops what was published for leads last changed before
// keep.
func pruneRecent(recent map[string]recentLead, keep time.Time) {
	k := keep.UTC().Format(sharpspring.TimeLayout)
	for id, r := range recent {
		if r.TS < k {
			delete(recent, id)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// publish publishes the leads that changed since what cur records (oldest
// change first) and records them in cur and known. It returns how many it
// published and how many were unchanged.
func (p *LeadPoller) publish(ctx context.Context, leads map[int64]sharpspring.Lead, cur *leadCursor, known map[int64]bool) (int, int, error) {
	var evs []pipeline.Event
	var recents []recentLead
	unchanged := 0
	for id, l := range leads {
		ev, ts, err := p.leadEvent(l)
		if err != nil {
			return 0, unchanged, err
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
	for n, i := range order {
		if err := p.pub.Publish(ctx, evs[i]); err != nil {
			return n, unchanged, fmt.Errorf("%s: publish lead %s: %w", p.cfg.Name, evs[i].ExternalID, err)
		}
	}
	// Every event is on the bus: record them.
	for i, ev := range evs {
		cur.Recent[ev.ExternalID] = recents[i]
		id, _ := strconv.ParseInt(ev.ExternalID, 10, 64)
		known[id] = true
	}
	return len(evs), unchanged, nil
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

// publishFunc publishes the leads of the window up to through (inclusive)
// and records that part of the window as done.
type publishFunc func(leads map[int64]sharpspring.Lead, through time.Time) error

// span is a part of a window, whole seconds, both ends inclusive.
type span struct{ start, end time.Time }

// collect reads every lead of [from, end] in parts, oldest first, handing
// each part to publish as soon as it is read. The parts still to read are
// kept across a failed request (p.todo), so the next call, going on from
// the same second, starts with the request that failed.
func (p *LeadPoller) collect(ctx context.Context, from, end time.Time, publish publishFunc) error {
	if len(p.todo) == 0 || !p.todo[0].start.Equal(from) || !p.todo[len(p.todo)-1].end.Equal(end) {
		p.todo = p.plan(from, end)
	}
	for len(p.todo) > 0 {
		w := p.todo[0]
		var leads map[int64]sharpspring.Lead
		if p.busy != nil && !w.end.After(w.start) && p.busy.at.Equal(w.start) {
			var err error
			if leads, err = p.second(ctx, w.start, nil); err != nil {
				return err
			}
		} else {
			page, err := p.page(ctx, w.start, w.end, p.cfg.PageSize, 0)
			if err != nil {
				return err
			}
			switch {
			case len(page) < p.cfg.PageSize:
				leads = map[int64]sharpspring.Lead{}
				merge(leads, page)
			case w.end.After(w.start):
				// Full: the part may hold more than the page (a page of 500
				// never proves a part complete; see busySecond). Read it in
				// halves.
				p.todo = append(splitSpan(w, 2), p.todo[1:]...)
				continue
			default:
				if leads, err = p.second(ctx, w.start, page); err != nil {
					return err
				}
			}
		}
		if err := publish(leads, w.end); err != nil {
			return err
		}
		p.todo = p.todo[1:]
	}
	return nil
}

// plan splits [from, end] up front when the last window's density says one
// page will not do: a full page that is thrown away costs a request for
// nothing.
func (p *LeadPoller) plan(from, end time.Time) []span {
	secs := end.Sub(from)/time.Second + 1
	if parts := int(math.Ceil(p.rate * float64(secs) / (0.7 * float64(p.cfg.PageSize)))); parts > 1 && secs > 1 {
		return splitSpan(span{from, end}, min(parts, int(secs)))
	}
	return []span{{from, end}}
}

// splitSpan splits w into parts disjoint spans of whole seconds.
func splitSpan(w span, parts int) []span {
	secs := int64(w.end.Sub(w.start)/time.Second) + 1
	var out []span
	from := w.start
	for i := int64(0); i < int64(parts); i++ {
		to := w.start.Add(time.Duration(secs*(i+1)/int64(parts)-1) * time.Second)
		if to.Before(from) {
			continue
		}
		out = append(out, span{from, to})
		from = to.Add(time.Second)
	}
	return out
}

// second reads one second holding a page or more (see busySecond), first
// being its first page (nil when the second is being read already). What
// was read of the second is kept across a failed request.
func (p *LeadPoller) second(ctx context.Context, at time.Time, first []sharpspring.Lead) (map[int64]sharpspring.Lead, error) {
	p.busy = p.busy.resume(at, p.cfg.PageSize, first, p.log)
	leads, err := p.busy.read(ctx, busyCalls{
		page: func(ctx context.Context, limit, offset int) ([]sharpspring.Lead, error) {
			return p.page(ctx, at, at, limit, offset)
		},
		api: p.api,
		stillIn: func(l sharpspring.Lead) bool {
			t, err := sharpspring.ParseTime(l["updateTimestamp"], p.cfg.Zone)
			return err == nil && t.Equal(at) && html.UnescapeString(l["active"]) == "1"
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.cfg.Name, err)
	}
	p.busy = nil
	return leads, nil
}

func (p *LeadPoller) page(ctx context.Context, start, end time.Time, limit, offset int) ([]sharpspring.Lead, error) {
	return p.api.GetLeadsDateRange(ctx, sharpspring.DateRangeQuery{
		Start: start, End: end, Timestamp: sharpspring.TimestampUpdate, Zone: p.cfg.Zone,
		Limit: limit, Offset: offset, Fields: p.cfg.Fields,
	})
}

// indexByID indexes leads by id; of leads with the same id, the last wins.
func indexByID(leads []sharpspring.Lead) map[int64]sharpspring.Lead {
	out := make(map[int64]sharpspring.Lead, len(leads))
	for _, l := range leads {
		out[l.ID()] = l
	}
	return out
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

// Step runs one Poll (pipeline.Stepper).
func (p *LeadPoller) Step(ctx context.Context) (int, error) {
	r, err := p.Poll(ctx)
	return r.Published, err
}

// Publishes is the poller's source name (pipeline.Stepper).
func (p *LeadPoller) Publishes() string { return p.cfg.Name }
