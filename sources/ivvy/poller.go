// Package ivvy polls iVvy for changed leads and publishes them as change
// events (vendor "ivvy", entity "lead", external id = the iVvy lead id).
//
// iVvy sends no notification for lead changes (only for contacts and lead
// notes), so leads are polled: crm?action=getLeadList paged with
// perPage/start, filtered with modifiedDate__GREATERTHAN (≥) on the cursor.
// No lead filter is documented, so every answer is checked: when a result
// older than the cursor comes back, the filter is taken as ignored and the
// poller scans the whole list from then on, selecting changes on
// modifiedDate itself. A contact edited in iVvy does not change its lead's
// modifiedDate, so contacts are polled too (contact?action=getContactList
// with fromModifiedDate) and the leads that use a changed contact are
// published again.
//
// The cursor (JSON, opaque to the store) holds the newest lead and contact
// modifiedDate seen, the ids already published at that second (iVvy
// timestamps have one-second resolution and the filter is inclusive) and
// whether the scan fallback is on. It is saved only after every event of
// the window was published. A lead whose fields equal what was last
// published for it is not published again.
package ivvy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/ivvy"
)

// State is what the poller keeps: its cursor and a receipt per lead, so
// that a lead reported again unchanged publishes nothing.
type State interface {
	pipeline.Cursors
	pipeline.Receipts
}

// Config configures a LeadPoller.
type Config struct {
	// Name is the source's name and cursor key; default "ivvy.lead".
	Name      string
	Client    *ivvy.Client       // required; its Gate is the shared rate limiter
	Publisher pipeline.Publisher // required
	State     State              // required
	Interval  time.Duration      // between polls; default 1 minute
	PerPage   int                // page size asked for; default 100 (iVvy may clamp it)
	Origin    pipeline.Origin    // default live
	// Since is where the first poll starts when no cursor is saved; zero
	// reads the whole history.
	Since  time.Time
	Logger *slog.Logger
}

// LeadPoller is a pipeline.Source. Run and Poll must not be called
// concurrently with each other.
type LeadPoller struct {
	cfg Config
	log *slog.Logger
}

// NewLeadPoller returns a poller.
func NewLeadPoller(cfg Config) (*LeadPoller, error) {
	if cfg.Client == nil || cfg.Publisher == nil || cfg.State == nil {
		return nil, errors.New("ivvy poller: client, publisher and state are required")
	}
	if cfg.Name == "" {
		cfg.Name = "ivvy.lead"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.PerPage <= 0 {
		cfg.PerPage = 100
	}
	if cfg.Origin == "" {
		cfg.Origin = pipeline.OriginLive
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &LeadPoller{cfg: cfg, log: log.With("source", cfg.Name)}, nil
}

// Name implements pipeline.Source.
func (p *LeadPoller) Name() string { return p.cfg.Name }

// Run polls every Interval until ctx ends, then returns nil. A failed poll
// is logged and tried again at the next tick (the cursor did not move).
func (p *LeadPoller) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		if n, err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("poll failed; trying again at the next tick", "err", err)
		} else if n > 0 {
			p.log.Info("published lead changes", "events", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// cursor is the persisted position.
type cursor struct {
	Leads      string  `json:"leads,omitempty"`       // newest lead modifiedDate seen ("2006-01-02 15:04:05")
	LeadIDs    []int64 `json:"lead_ids,omitempty"`    // leads published at exactly Leads
	Contacts   string  `json:"contacts,omitempty"`    // newest contact modifiedDate seen
	ContactIDs []int64 `json:"contact_ids,omitempty"` // contacts seen at exactly Contacts
	Scan       bool    `json:"scan,omitempty"`        // getLeadList ignores the filter: scan
}

// Poll runs one window: read changes, publish them, save the cursor. It
// returns how many events were published.
func (p *LeadPoller) Poll(ctx context.Context) (int, error) {
	raw, _, err := p.cfg.State.Cursor(ctx, p.cfg.Name)
	if err != nil && !errors.Is(err, pipeline.ErrNotFound) {
		return 0, err
	}
	var cur cursor
	if raw != "" {
		if cur, err = decodeCursor(raw); err != nil {
			return 0, err
		}
	} else if !p.cfg.Since.IsZero() {
		cur.Leads = ivvy.FormatTime(p.cfg.Since)
		cur.Contacts = cur.Leads
	}
	next := cur

	all, full, err := p.changedLeads(ctx, &next)
	if err != nil {
		return 0, err
	}
	changed := map[int64]ivvy.Lead{}
	for _, l := range all {
		if after(l.ModifiedDate, l.ID, cur.Leads, cur.LeadIDs) {
			changed[int64(l.ID)] = l
		}
	}
	byContact, err := p.changedContacts(ctx, cur, &next)
	if err != nil {
		return 0, err
	}
	if err := p.leadsOfContacts(ctx, byContact, changed, all, full, &next); err != nil {
		return 0, err
	}

	ids := make([]int64, 0, len(changed))
	for id := range changed {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	n := 0
	for _, id := range ids {
		published, err := p.publish(ctx, changed[id], byContact[contactOf(changed[id])])
		if err != nil {
			return n, err
		}
		if published {
			n++
		}
	}
	b, _ := json.Marshal(next)
	if err := p.cfg.State.SetCursor(ctx, p.cfg.Name, string(b)); err != nil {
		return n, err
	}
	return n, nil
}

// changedLeads reads the leads modified at or after the cursor (all leads
// in scan mode), advancing next. full reports that the answer is the whole
// list.
func (p *LeadPoller) changedLeads(ctx context.Context, next *cursor) (leads []ivvy.Lead, full bool, err error) {
	since := next.Leads
	var filter map[string]any
	if since != "" && !next.Scan {
		filter = map[string]any{"modifiedDate__GREATERTHAN": since}
	}
	full = filter == nil
	for start := 0; ; {
		pg, err := p.cfg.Client.GetLeadList(ctx, ivvy.ListQuery{PerPage: p.cfg.PerPage, Start: start, Filter: filter})
		if err != nil {
			return nil, false, err
		}
		for _, l := range pg.Results {
			if filter != nil && norm(l.ModifiedDate) < since {
				if !next.Scan {
					p.log.Info("getLeadList ignores the modifiedDate filter; scanning the whole list from now on")
				}
				next.Scan, full = true, true
			}
		}
		leads = append(leads, pg.Results...)
		if pg.Done() {
			break
		}
		start += len(pg.Results)
	}
	for _, l := range leads {
		advance(&next.Leads, &next.LeadIDs, norm(l.ModifiedDate), int64(l.ID))
	}
	return leads, full, nil
}

// changedContacts returns the contacts modified since the cursor, by id.
func (p *LeadPoller) changedContacts(ctx context.Context, cur cursor, next *cursor) (map[int64]ivvy.Contact, error) {
	out := map[int64]ivvy.Contact{}
	var filter map[string]any
	if cur.Contacts != "" {
		filter = map[string]any{"fromModifiedDate": cur.Contacts}
	}
	for start := 0; ; {
		pg, err := p.cfg.Client.GetContactList(ctx, ivvy.ListQuery{PerPage: p.cfg.PerPage, Start: start, Filter: filter})
		if err != nil {
			return nil, err
		}
		for _, c := range pg.Results {
			if after(c.ModifiedDate, c.ID, cur.Contacts, cur.ContactIDs) {
				out[int64(c.ID)] = c
			}
			advance(&next.Contacts, &next.ContactIDs, norm(c.ModifiedDate), int64(c.ID))
		}
		if pg.Done() {
			break
		}
		start += len(pg.Results)
	}
	if cur.Contacts == "" {
		// First window: every lead is published anyway; the contacts only
		// set the cursor.
		return map[int64]ivvy.Contact{}, nil
	}
	return out, nil
}

// leadsOfContacts adds to changed the leads whose contact changed.
func (p *LeadPoller) leadsOfContacts(ctx context.Context, contacts map[int64]ivvy.Contact, changed map[int64]ivvy.Lead,
	all []ivvy.Lead, full bool, next *cursor) error {
	need := map[int64]bool{}
	for cid := range contacts {
		need[cid] = true
	}
	for _, l := range changed {
		delete(need, contactOf(l))
	}
	if len(need) == 0 {
		return nil
	}
	add := func(leads []ivvy.Lead) {
		for _, l := range leads {
			if need[contactOf(l)] {
				changed[int64(l.ID)] = l
			}
		}
	}
	if full {
		add(all)
		return nil
	}
	cids := make([]int64, 0, len(need))
	for cid := range need {
		cids = append(cids, cid)
	}
	slices.Sort(cids)
	for _, cid := range cids {
		pg, err := p.cfg.Client.GetLeadList(ctx, ivvy.ListQuery{PerPage: p.cfg.PerPage, Filter: map[string]any{"contactId": cid}})
		if err != nil {
			return err
		}
		honoured := pg.Done()
		for _, l := range pg.Results {
			honoured = honoured && contactOf(l) == cid
		}
		if !honoured {
			// The contactId filter is ignored: read the whole list once.
			leads, err := p.scanAll(ctx)
			if err != nil {
				return err
			}
			add(leads)
			return nil
		}
		add(pg.Results)
	}
	return nil
}

func (p *LeadPoller) scanAll(ctx context.Context) ([]ivvy.Lead, error) {
	var all []ivvy.Lead
	for start := 0; ; {
		pg, err := p.cfg.Client.GetLeadList(ctx, ivvy.ListQuery{PerPage: p.cfg.PerPage, Start: start})
		if err != nil {
			return nil, err
		}
		all = append(all, pg.Results...)
		if pg.Done() {
			return all, nil
		}
		start += len(pg.Results)
	}
}

// publish sends one lead's event unless its fields equal the last published.
func (p *LeadPoller) publish(ctx context.Context, l ivvy.Lead, c ivvy.Contact) (bool, error) {
	fields := mappings.IVvyLeadFields(l)
	changedAt := l.Modified()
	if c.ID > 0 {
		if t, err := ivvy.ParseTime(c.ModifiedDate); err == nil && t.After(changedAt) {
			changedAt = t
		}
	}
	ev := pipeline.Event{Vendor: "ivvy", Entity: "lead", ExternalID: strconv.FormatInt(int64(l.ID), 10),
		Version: norm(l.ModifiedDate), Fields: fields, ChangedAt: changedAt, Origin: p.cfg.Origin}
	if err := ev.Seal(); err != nil {
		return false, err
	}
	hash := pipeline.FieldsHash(fields)
	if prev, err := p.cfg.State.Delivery(ctx, ev.Vendor, ev.Entity, ev.ExternalID); err == nil && prev == hash {
		return false, nil
	}
	if err := p.cfg.Publisher.Publish(ctx, ev); err != nil {
		return false, fmt.Errorf("ivvy poller: publish lead %s: %w", ev.ExternalID, err)
	}
	p.log.Debug("published a lead change", "lead", ev.ExternalID, "event", ev.ID, "modified", ev.Version)
	return true, p.cfg.State.RecordDelivery(ctx, ev.Vendor, ev.Entity, ev.ExternalID, hash, ev.ID)
}

func contactOf(l ivvy.Lead) int64 {
	if l.Contact == nil {
		return 0
	}
	return int64(l.Contact.ID)
}

// norm is a timestamp without " UTC", comparable as text.
func norm(s string) string {
	t, err := ivvy.ParseTime(s)
	if err != nil {
		return ""
	}
	return ivvy.FormatTime(t)
}

// after reports whether a record modified at ts may be new relative to the
// cursor position since.
func after(ts string, _ ivvy.Int, since string, _ []int64) bool {
	// The watermark's own second is read again every time: iVvy stamps
	// changes to the second, so a record seen at that second may have
	// changed again within it. publish drops what did not change, by
	// content hash.
	return since == "" || norm(ts) >= since
}

// advance moves a cursor position to ts, keeping the ids seen at the newest
// second.
func advance(pos *string, ids *[]int64, ts string, id int64) {
	switch {
	case ts > *pos:
		*pos, *ids = ts, []int64{id}
	case ts == *pos && !slices.Contains(*ids, id):
		*ids = append(*ids, id)
	}
}
