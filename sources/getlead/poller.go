// Package getlead polls Getlead CRM's V3 API for new leads and publishes
// them as change events (vendor "getlead", entity "lead", external id the
// lead_id, fields in mappings.GetleadLeads names).
//
// Getlead has no webhooks or change feed; its own integration polls
// GET /leads sorted by created_at (oldest first) with a created_at[from]
// watermark and remembers the ids already seen at the watermark timestamp.
// This poller does the same. The cursor is JSON
// {"from": RFC 3339 time, "seen": [lead ids created at exactly "from"]}
// and is saved after every page whose events the bus acknowledged, so a
// crash repeats at most one page (the bus drops the repeats by event id).
// Only new leads are detected: Getlead documents no way to find updated
// ones.
package getlead

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/getlead"
)

// Config configures a Poller. The zero value of each field means its
// default.
type Config struct {
	// Name is the source name under which the cursor is stored; default
	// "getlead.leads".
	Name string
	// V3 configures the API client: BaseURL, APIKey (ik_…), Gate.
	V3 getlead.V3Config
	// State stores the cursor; required.
	State pipeline.Cursors
	// Publisher is the bus; required.
	Publisher pipeline.Publisher
	// CountryCode splits numbers Getlead returns without a "+"; default
	// mappings.DefaultGetleadCountryCode.
	CountryCode string
	// Interval between polls; default one minute.
	Interval time.Duration
	// PerPage leads per request; default 50.
	PerPage int
	// MaxPages per poll, so one poll stays bounded; default 10.
	MaxPages int
	// StartFrom is the watermark when no cursor is stored; zero means all
	// history.
	StartFrom time.Time
	Logger    *slog.Logger
}

// Poller is a pipeline.Source for new Getlead leads. Run and Poll must not
// be called concurrently.
type Poller struct {
	cfg Config
	api *getlead.V3
	log *slog.Logger
}

// NewPoller returns a poller.
func NewPoller(cfg Config) (*Poller, error) {
	if cfg.State == nil || cfg.Publisher == nil {
		return nil, errors.New("getlead poller: state and publisher are required")
	}
	cfg.Name = cmp.Or(cfg.Name, "getlead.leads")
	cfg.CountryCode = cmp.Or(cfg.CountryCode, mappings.DefaultGetleadCountryCode)
	cfg.Interval = poll.OrDefault(cfg.Interval, time.Minute)
	cfg.PerPage = poll.OrDefault(cfg.PerPage, 50)
	cfg.MaxPages = poll.OrDefault(cfg.MaxPages, 10)
	api, err := getlead.NewV3(cfg.V3)
	if err != nil {
		return nil, err
	}
	return &Poller{cfg: cfg, api: api, log: poll.Logger(cfg.Logger, cfg.Name)}, nil
}

// Name implements pipeline.Source.
func (p *Poller) Name() string { return p.cfg.Name }

// Run polls every Interval until ctx ends, then returns nil. A failed poll
// is logged and tried again at the next tick (after retry_after on 429). It
// returns an error only when the stored cursor cannot be read.
func (p *Poller) Run(ctx context.Context) error {
	return pipeline.RunPolls(ctx, p.log, p.cfg.Interval, p.Poll, func(err error) time.Duration {
		if ge, ok := errors.AsType[*getlead.Error](err); ok {
			return ge.RetryAfter
		}
		return 0
	})
}

// Cursor is the poller's saved position.
type Cursor struct {
	From time.Time `json:"from"`
	Seen []string  `json:"seen,omitempty"` // lead ids created at exactly From
}

func (p *Poller) cursor() pipeline.StoredCursor[Cursor] {
	return pipeline.StoredCursor[Cursor]{Cursors: p.cfg.State, Source: p.cfg.Name, Decode: decodeCursor}
}

// Poll reads up to MaxPages pages of leads created at or after the cursor,
// publishes the ones not seen yet, oldest first, and saves the cursor after
// each page. It returns how many events it published.
func (p *Poller) Poll(ctx context.Context) (int, error) {
	cur, err := p.cursor().Load(ctx, Cursor{From: p.cfg.StartFrom.UTC()})
	if err != nil {
		return 0, err
	}
	published := 0
	q := getlead.ListQuery{PerPage: p.cfg.PerPage, SortBy: "created_at", SortDirection: "asc", CreatedFrom: cur.From}
	for range p.cfg.MaxPages {
		page, err := p.api.ListLeads(ctx, q)
		if err != nil {
			return published, err
		}
		next := cur
		next.Seen = slices.Clone(cur.Seen)
		for _, l := range page.Leads {
			switch {
			case l.CreatedAt.IsZero():
				// No time to watermark by: publish; the bus drops the
				// repeats of an unchanged lead.
			case l.CreatedAt.Before(next.From):
				continue // before the watermark: published by an earlier poll
			case l.CreatedAt.Equal(next.From) && slices.Contains(next.Seen, l.ID):
				continue
			}
			ev := leadEvent(l, p.cfg.CountryCode)
			if err := ev.Seal(); err != nil {
				p.log.Warn("getlead lead skipped", "lead", l.ID, "err", err)
				continue
			}
			if err := p.cfg.Publisher.Publish(ctx, ev); err != nil {
				return published, fmt.Errorf("getlead poller: publish lead %s: %w", l.ID, err)
			}
			published++
			switch {
			case l.CreatedAt.IsZero():
			case l.CreatedAt.After(next.From):
				next.From, next.Seen = l.CreatedAt, []string{l.ID}
			default:
				next.Seen = append(next.Seen, l.ID)
			}
		}
		if !next.From.Equal(cur.From) || len(next.Seen) != len(cur.Seen) {
			if err := p.cursor().Save(ctx, next); err != nil {
				return published, err
			}
			cur = next
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	return published, nil
}

// leadEvent turns a V3 lead into a change event in Getlead field names
// (numbers without a "+" are split with countryCode). Empty values are left
// out: a new lead's blank field says nothing. The poller and the backfill
// pager both build their events here, so both publish one lead state under
// one event id.
func leadEvent(l getlead.Lead, countryCode string) pipeline.Event {
	f := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			f[k] = v
		}
	}
	set(mappings.GetleadName, l.Name)
	set(mappings.GetleadEmail, l.Email)
	set(mappings.GetleadStatus, l.StatusName)
	if len(l.Phones) > 0 {
		if ph, err := mappings.ParsePhone(l.Phones[0], countryCode); err == nil {
			f[mappings.GetleadCountryCode], f[mappings.GetleadMobile] = ph.CountryCode, ph.National
		} else {
			// Kept as written: the route's mapping dead-letters it with
			// the reason.
			f[mappings.GetleadMobile] = l.Phones[0]
		}
	}
	for k, v := range l.CustomFields {
		if _, standard := f[k]; standard || isStandardName(k) {
			continue
		}
		set(k, v)
	}
	changed := l.UpdatedAt
	if changed.IsZero() {
		changed = l.CreatedAt
	}
	return pipeline.Event{
		Vendor: "getlead", Entity: "lead", ExternalID: l.ID, Op: pipeline.OpUpsert,
		Version: changed.UTC().Format(time.RFC3339Nano), Fields: f, ChangedAt: changed, Origin: pipeline.OriginLive,
	}
}

func isStandardName(k string) bool {
	switch k {
	case mappings.GetleadName, mappings.GetleadEmail, mappings.GetleadCountryCode, mappings.GetleadMobile,
		mappings.GetleadCompany, mappings.GetleadStatus, mappings.GetleadNote:
		return true
	}
	return false
}

// Step runs one Poll (pipeline.Stepper).
func (p *Poller) Step(ctx context.Context) (int, error) { return p.Poll(ctx) }

// Publishes is the poller's source name (pipeline.Stepper).
func (p *Poller) Publishes() string { return p.cfg.Name }
