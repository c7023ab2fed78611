package acme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// PollerConfig configures a Poller. The zero value of each field means its
// default.
type PollerConfig struct {
	// Name is the source's name, its lease on a cluster and the name its
	// cursor is kept under; default "acme.lead".
	Name   string
	Client *Client // required
	// State keeps the cursor; required.
	State pipeline.Cursors
	// Publisher is the bus; required.
	Publisher pipeline.Publisher
	// Interval between polls; default one minute.
	Interval time.Duration
	// PerPage leads per request, at most MaxBatch; default MaxBatch.
	PerPage int
	// MaxPages per poll, so one poll stays bounded; default 10.
	MaxPages int
	// StartFrom is where the first poll starts when no cursor is stored;
	// zero means all of Acme's history.
	StartFrom time.Time
	Logger    *slog.Logger
}

// Poller is the pipeline.Source of Acme leads: it lists the leads changed
// since its cursor, by (updated_at, id) with Acme's keyset cursor, and
// publishes each change as a sealed event (vendor "acme", entity "lead",
// external id the lead's id, version its updated_at). Its cursor is saved
// after every page whose events the bus acknowledged, so a crash repeats
// at most one page, under the same event ids, which the bus drops. Run and
// Poll must not be called concurrently.
//
// The stored cursor is JSON {"since": RFC 3339 time the first poll started
// from, "after": Acme's keyset cursor after the last lead published}.
type Poller struct {
	cfg PollerConfig
	log *slog.Logger
}

// NewPoller returns a poller.
func NewPoller(cfg PollerConfig) (*Poller, error) {
	if cfg.Client == nil || cfg.State == nil || cfg.Publisher == nil {
		return nil, errors.New("acme poller: client, state and publisher are required")
	}
	if cfg.Name == "" {
		cfg.Name = Vendor + "." + Entity
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.PerPage <= 0 || cfg.PerPage > MaxBatch {
		cfg.PerPage = MaxBatch
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 10
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Poller{cfg: cfg, log: log.With("source", cfg.Name)}, nil
}

// Name implements pipeline.Source.
func (p *Poller) Name() string { return p.cfg.Name }

// Run polls every Interval until ctx ends, then returns nil. A failed poll
// is logged and tried again at the next tick (later, when Acme asked to
// wait longer). It returns an error only when the stored cursor cannot be
// read.
func (p *Poller) Run(ctx context.Context) error {
	return pipeline.RunPolls(ctx, p.log, p.cfg.Interval, p.Poll, func(err error) time.Duration {
		if ae, ok := errors.AsType[*Error](err); ok {
			return ae.RetryAfter
		}
		return 0
	})
}

// Cursor is the poller's stored position.
type Cursor struct {
	Since time.Time `json:"since"`
	After string    `json:"after,omitempty"` // Acme's keyset cursor; "" before the first lead
}

// DecodeCursor reads a stored cursor. Anything the poller would not have
// written is an error; in particular a value without "since" is not read
// as "from the beginning", which would read all of Acme's history again.
func DecodeCursor(raw string) (Cursor, error) {
	var c struct {
		Since *time.Time `json:"since"`
		After string     `json:"after"`
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Cursor{}, fmt.Errorf("stored cursor is not readable: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Cursor{}, errors.New("stored cursor has data after the object")
	}
	if c.Since == nil {
		return Cursor{}, errors.New(`stored cursor has no "since" time`)
	}
	return Cursor{Since: c.Since.UTC(), After: c.After}, nil
}

func (p *Poller) cursor() pipeline.StoredCursor[Cursor] {
	return pipeline.StoredCursor[Cursor]{Cursors: p.cfg.State, Source: p.cfg.Name, Decode: DecodeCursor}
}

// Poll reads up to MaxPages pages of leads changed after the cursor,
// publishes them in Acme's order and saves the cursor after each page the
// bus acknowledged. It returns how many events it published; the error of
// a failed publish or request leaves the cursor after the last page
// acknowledged.
func (p *Poller) Poll(ctx context.Context) (int, error) {
	cur, err := p.cursor().Load(ctx, Cursor{Since: p.cfg.StartFrom.UTC()})
	if err != nil {
		return 0, err
	}
	published := 0
	for range p.cfg.MaxPages {
		page, err := p.cfg.Client.List(ctx, ListQuery{UpdatedSince: cur.Since, After: cur.After, Limit: p.cfg.PerPage})
		if err != nil {
			return published, err
		}
		for _, l := range page.Leads {
			ev := leadEvent(l)
			if err := ev.Seal(); err != nil {
				p.log.Warn("acme lead skipped", "lead", l.ID, "err", err)
				continue
			}
			if err := p.cfg.Publisher.Publish(ctx, ev); err != nil {
				return published, fmt.Errorf("acme poller: publish lead %s: %w", l.ID, err)
			}
			published++
		}
		if page.Next != "" && page.Next != cur.After {
			cur.After = page.Next
			if err := p.cursor().Save(ctx, cur); err != nil {
				return published, err
			}
		}
		if !page.More {
			break
		}
	}
	return published, nil
}

// leadEvent is the change event of a lead as listed: its fields (empty
// ones are absent on the wire and say nothing), versioned by its
// updated_at. The poller and the pager both build their events here, so
// one state of a lead has one event id.
func leadEvent(l Lead) pipeline.Event {
	changed := l.UpdatedAt
	if changed.IsZero() {
		changed = l.CreatedAt
	}
	return pipeline.Event{Vendor: Vendor, Entity: Entity, ExternalID: l.ID, Op: pipeline.OpUpsert,
		Version: changed.UTC().Format(time.RFC3339Nano), Fields: maps.Clone(l.Fields), ChangedAt: changed, Origin: pipeline.OriginLive}
}

// Pager pages through Acme's leads for a backfill (`crmsync backfill
// --source acme.lead`); it implements pipeline.Pager. It walks the change
// list by (updated_at, id) from Since with Acme's keyset cursor, which is
// its own cursor too, so a lead changed during the run moves to the end
// of the list and is published again there, with its newer values: none
// is skipped. Since and Until
// bound updated_at (inclusive); zero means open.
type Pager struct {
	Client       *Client
	PerPage      int // default MaxBatch
	Since, Until time.Time
}

// Page implements pipeline.Pager.
func (p *Pager) Page(ctx context.Context, cursor string) ([]pipeline.Event, string, error) {
	limit := p.PerPage
	if limit <= 0 || limit > MaxBatch {
		limit = MaxBatch
	}
	page, err := p.Client.List(ctx, ListQuery{UpdatedSince: p.Since, After: cursor, Limit: limit})
	if err != nil {
		return nil, "", fmt.Errorf("acme lead backfill: %w", err)
	}
	var evs []pipeline.Event
	for _, l := range page.Leads {
		if !p.Until.IsZero() && l.UpdatedAt.After(p.Until) {
			return evs, "", nil // the rest of the list is later still
		}
		evs = append(evs, leadEvent(l))
	}
	if !page.More {
		return evs, "", nil
	}
	return evs, page.Next, nil
}

// Total implements pipeline.Pager: Acme counts nothing, so it is -1.
func (p *Pager) Total(context.Context) (int64, error) { return -1, nil }
