// Package ivvy polls iVvy for changed leads and publishes them as change
// events (vendor "ivvy", entity "lead", external id = the iVvy lead id).
//
// iVvy sends no notification for lead changes (only for contacts and lead
// notes), so leads are polled: crm?action=getLeadList paged with
// perPage/start, filtered with modifiedDate__GREATERTHAN (≥) on the cursor
// (pages after the first by id where iVvy allows it: see readLeads, so a
// lead deleted while a window is paged makes the poller skip no other).
// No lead filter is documented, so every answer is checked: when a result
// older than the cursor comes back, the filter is taken as ignored and the
// poller scans the whole list from then on, selecting changes on
// modifiedDate itself. When iVvy refuses a filter instead (an error answer
// such as 400/23016 to the filtered request that the same request without
// the filter does not get), the poller reads without it for the rest of
// the process the same way: the whole list, compared on modifiedDate.
//
// A contact edited in iVvy does not change its lead's modifiedDate, so
// contacts are polled too (contact?action=getContactList with
// fromModifiedDate): a changed contact that the identity map links to its
// lead is published as a change of that lead's contact fields, without a
// request; the leads of other changed contacts are read and published
// again.
//
// The cursor (JSON, opaque to the store) holds the newest lead and contact
// modifiedDate seen, a hash of each contact seen at that second (iVvy
// timestamps have one-second resolution and the filters are inclusive, so
// the newest second is read again until it is over: see settleAfter) and
// whether the scan fallback is on. It is saved only after every event of
// the window was published. A lead (or contact) whose fields equal what was
// last published for it is not published again.
package ivvy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/ivvy"
)

// State is what the poller keeps: its cursor and a receipt per lead (and
// per contact published on its own), so that a record reported again
// unchanged publishes nothing.
type State interface {
	pipeline.Cursors
	pipeline.Receipts
}

// Identity is the part of the identity map the poller reads to find the
// lead of a changed contact without asking iVvy (pipeline.Identity).
type Identity interface {
	Lookup(ctx context.Context, k pipeline.Key) (string, error)
	VendorKeys(ctx context.Context, vendor, entity, kind string, canonicalIDs []string) (map[string]string, error)
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
	Since time.Time
	// Identity, when set, maps a changed contact to its lead through the
	// contact links the routes and the iVvy sink keep
	// (mappings.IVvyContactKey), so a contact edit costs no lead read. nil:
	// the leads of every changed contact are read from iVvy.
	Identity Identity
	// Now is crmsync's clock, which tells when the newest second seen is
	// over (see settleAfter); default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// LeadPoller is a pipeline.Source. Run and Poll must not be called
// concurrently with each other.
type LeadPoller struct {
	cfg Config
	log *slog.Logger
	// refused holds the getLeadList filters iVvy refused in this process
	// ("modifiedDate", "id", "contactId"): they are not sent again until
	// a restart, which tries each once more.
	refused map[string]bool
	// leadPages counts getLeadList requests made to read lead lists, and
	// firstPageNewest is the newest modifiedDate on the first page of the
	// last list read (see pagedWatermark).
	leadPages       int
	firstPageNewest string
}

// NewLeadPoller returns a poller.
func NewLeadPoller(cfg Config) (*LeadPoller, error) {
	if cfg.Client == nil || cfg.Publisher == nil || cfg.State == nil {
		return nil, errors.New("ivvy poller: client, publisher and state are required")
	}
	cfg.Name = cmp.Or(cfg.Name, "ivvy.lead")
	cfg.Interval = poll.OrDefault(cfg.Interval, time.Minute)
	cfg.PerPage = poll.OrDefault(cfg.PerPage, 100)
	cfg.Origin = cmp.Or(cfg.Origin, pipeline.OriginLive)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &LeadPoller{cfg: cfg, log: poll.Logger(cfg.Logger, cfg.Name), refused: map[string]bool{}}, nil
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
	Leads   string  `json:"leads,omitempty"`    // newest lead modifiedDate seen ("2006-01-02 15:04:05")
	LeadIDs []int64 `json:"lead_ids,omitempty"` // written by earlier versions; unused
	// Contacts is the newest contact modifiedDate seen, ContactSeen the
	// contacts seen at exactly that second with a hash of their lead
	// fields (contactHash): read again while the second may still get
	// changes, they count as changed only when their content differs.
	Contacts    string           `json:"contacts,omitempty"`
	ContactSeen map[int64]string `json:"contact_seen,omitempty"`
	ContactIDs  []int64          `json:"contact_ids,omitempty"` // earlier versions: seen at Contacts, content unknown
	Scan        bool             `json:"scan,omitempty"`        // getLeadList ignores the filter: scan
}

// settleAfter is how long after a watermark second, on crmsync's clock, the
// poller stops reading that second again. iVvy stamps changes to the
// second and its date filters are inclusive, so a record may still be
// stamped with the newest second seen until that second is over on iVvy's
// clock. iVvy refuses requests signed more than 5 minutes off its clock, so
// 5 minutes bound the skew between the clocks; the sixth minute is for a
// write in flight to show in lists (iVvy documents no such delay: the
// margin is a guess erring on reading a second too often).
const settleAfter = 6 * time.Minute

// readFrom is the first second a list must read for a watermark: the
// watermark's own second while it may still get changes, the next one once
// it is over (open false).
func readFrom(watermark string, now time.Time) (from string, open bool) {
	t, err := ivvy.ParseTime(watermark)
	if err != nil || now.Sub(t) < settleAfter+time.Second {
		return watermark, true
	}
	return ivvy.FormatTime(t.Add(time.Second)), false
}

// Poll runs one window: read changes, publish them, save the cursor. It
// returns how many events were published.
//
// An idle window costs two requests (one lead page, one contact page) once
// the newest second seen is over (settleAfter); until then, also the pages
// of the records stamped with that second, which are compared with what was
// published instead of being published again.
func (p *LeadPoller) Poll(ctx context.Context) (int, error) {
	raw, _, err := p.cfg.State.Cursor(ctx, p.cfg.Name)
	if err != nil && !errors.Is(err, pipeline.ErrNotFound) {
		return 0, err
	}
	var cur cursor
	leadsFrom, contactsFrom, contactsOpen := "", "", true
	if raw != "" {
		if cur, err = decodeCursor(raw); err != nil {
			return 0, err
		}
		now := p.cfg.Now()
		leadsFrom, _ = readFrom(cur.Leads, now)
		contactsFrom, contactsOpen = readFrom(cur.Contacts, now)
	} else if !p.cfg.Since.IsZero() {
		// Since is inclusive: its second is read like an open watermark.
		cur.Leads = ivvy.FormatTime(p.cfg.Since)
		cur.Contacts = cur.Leads
		leadsFrom, contactsFrom = cur.Leads, cur.Contacts
	}
	next := cur
	next.LeadIDs, next.ContactIDs = nil, nil
	next.ContactSeen = maps.Clone(cur.ContactSeen)
	if !contactsOpen {
		next.ContactSeen = nil // the second is over: nothing at it can change
	}

	all, full, err := p.changedLeads(ctx, leadsFrom, &next)
	if err != nil {
		return 0, err
	}
	changed := map[int64]ivvy.Lead{}
	for _, l := range all {
		// The watermark's own second is read again while it is open: a
		// lead seen at it may have changed again within it. publish drops
		// what did not change, by content hash.
		if leadsFrom == "" || norm(l.ModifiedDate) >= leadsFrom {
			changed[int64(l.ID)] = l
		}
	}
	byContact, err := p.changedContacts(ctx, cur, contactsFrom, &next)
	if err != nil {
		return 0, err
	}
	partial, err := p.leadsOfContacts(ctx, byContact, changed, all, full)
	if err != nil {
		return 0, err
	}

	ids := make([]int64, 0, len(changed))
	for id := range changed {
		ids = append(ids, id)
	}
	slices.Sort(ids)
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
	for _, pc := range partial {
		published, err := p.publishContact(ctx, pc.lead, pc.contact)
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

// changedLeads reads the leads modified from the second from on (all leads
// when from is empty or in scan mode), advancing next. full reports that
// the answer is the whole list.
func (p *LeadPoller) changedLeads(ctx context.Context, from string, next *cursor) (leads []ivvy.Lead, full bool, err error) {
	var filter map[string]any
	if from != "" && !next.Scan && !p.refused[filterModified] {
		filter = map[string]any{"modifiedDate__GREATERTHAN": from}
	}
	full = filter == nil
	pages, began := p.leadPages, p.cfg.Now()
	leads, err = p.readLeads(ctx, filter, !next.Scan)
	if filter != nil && ivvy.IsRefused(err) {
		// Read once more without the filter: an answer means iVvy refuses
		// the filter, not the request; an error is the poll's error.
		all, err2 := p.readLeads(ctx, nil, false)
		if err2 != nil {
			return nil, false, err
		}
		p.refuse(filterModified, err)
		leads, filter, full, err = all, nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	for _, l := range leads {
		if filter != nil && norm(l.ModifiedDate) < from {
			if !next.Scan {
				p.log.Info("getLeadList ignores the modifiedDate filter; scanning the whole list from now on")
			}
			next.Scan, full = true, true
			break
		}
	}
	newest := next.Leads
	for _, l := range leads {
		if ts := norm(l.ModifiedDate); ts > newest {
			newest = ts
		}
	}
	if p.leadPages-pages > 1 {
		newest = pagedWatermark(newest, max(next.Leads, p.firstPageNewest), p.cfg.Now().Sub(began))
	}
	next.Leads = newest
	return leads, full, nil
}

// pagedWatermark is the watermark of a window read in several pages over
// span, whose newest modifiedDate is newest. A lead edited after its page
// was read is stamped no earlier than the first page's read; a lead on a
// later page edited after it can carry the newest stamp, past the first.
// The first read came at most span before the newest stamp seen, and
// after every stamp on the first page: the watermark stays at the later of
// the two bounds (floor, the old watermark or the first page's newest
// stamp, whichever is later), so that the next window reads such a lead
// again (publishing it only if it changed). A window read within one
// second of its first page's newest stamp costs nothing more.
func pagedWatermark(newest, floor string, span time.Duration) string {
	t, err := ivvy.ParseTime(newest)
	if err != nil {
		return newest
	}
	w := ivvy.FormatTime(t.Add(-span.Truncate(time.Second) - time.Second))
	return min(newest, max(w, floor))
}

// Filters on getLeadList the poller may find refused (LeadPoller.refused).
const (
	filterModified = "modifiedDate"
	filterID       = "id"
	filterContact  = "contactId"
)

// refuse remembers for the process that iVvy refused a getLeadList filter,
// logging it the first time.
func (p *LeadPoller) refuse(filter string, err error) {
	if p.refused[filter] {
		return
	}
	p.refused[filter] = true
	msg := map[string]string{
		filterModified: "iVvy refuses the getLeadList modifiedDate filter; reading the whole lead list every poll and selecting changes on modifiedDate",
		filterID:       "iVvy refuses the getLeadList id filter; paging the lead list by offset",
		filterContact:  "iVvy refuses the getLeadList contactId filter; reading the whole lead list to find the leads of changed contacts",
	}[filter]
	p.log.Warn(msg, "answer", err)
}

// changedContacts returns, by id, the contacts modified from the second
// from on whose lead fields differ from what was seen: a contact at the
// watermark second is compared with the hash the cursor kept for it.
func (p *LeadPoller) changedContacts(ctx context.Context, cur cursor, from string, next *cursor) (map[int64]ivvy.Contact, error) {
	out := map[int64]ivvy.Contact{}
	var filter map[string]any
	if from != "" {
		filter = map[string]any{"fromModifiedDate": from}
	}
	seen := map[int64][2]string{} // id → modifiedDate, hash
	pages, began, firstNewest := 0, p.cfg.Now(), ""
	for start := 0; ; {
		pg, err := p.cfg.Client.GetContactList(ctx, ivvy.ListQuery{PerPage: p.cfg.PerPage, Start: start, Filter: filter})
		if err != nil {
			return nil, err
		}
		if pages++; pages == 1 {
			for _, c := range pg.Results {
				firstNewest = max(firstNewest, norm(c.ModifiedDate))
			}
		}
		for _, c := range pg.Results {
			ts, h, id := norm(c.ModifiedDate), contactHash(c), int64(c.ID)
			seen[id] = [2]string{ts, h}
			if from != "" && ts < from {
				continue // the filter was not applied; seen before
			}
			if ts > cur.Contacts || cur.ContactSeen[id] != h {
				out[id] = c
			}
			switch {
			case ts > next.Contacts:
				next.Contacts, next.ContactSeen = ts, map[int64]string{id: h}
			case ts == next.Contacts:
				if next.ContactSeen == nil {
					next.ContactSeen = map[int64]string{}
				}
				next.ContactSeen[id] = h
			}
		}
		if pg.Done() {
			break
		}
		start += len(pg.Results)
	}
	if w := pagedWatermark(next.Contacts, max(cur.Contacts, firstNewest), p.cfg.Now().Sub(began)); pages > 1 && w < next.Contacts {
		// A contact edited after its page was read can be stamped before
		// the newest contact seen (see pagedWatermark): the next window
		// reads from w, comparing the contacts seen at w by their hashes.
		next.Contacts, next.ContactSeen = w, map[int64]string{}
		for id, sh := range seen {
			if sh[0] == w {
				next.ContactSeen[id] = sh[1]
			}
		}
	}
	if cur.Contacts == "" {
		// First window: every lead is published anyway; the contacts only
		// set the cursor.
		return map[int64]ivvy.Contact{}, nil
	}
	return out, nil
}

// contactHash is a short hash of the fields a contact gives its leads.
func contactHash(c ivvy.Contact) string {
	return pipeline.FieldsHash(mappings.IVvyContactFields(c))[:16]
}

// contactChange is a changed contact whose lead was found in the identity
// map: published as the contact's fields only.
type contactChange struct {
	lead    int64
	contact ivvy.Contact
}

// leadsOfContacts finds the leads of changed contacts that are not already
// in changed. A contact the identity map links to a lead (the links the
// routes and the iVvy sink keep) costs no request: its fields are published
// on their own for that lead. The leads of the other contacts are read:
// from all when the whole list is in hand, else by contactId, a filter iVvy
// does not document: an answer that does not honour it falls back to
// reading the whole list once.
func (p *LeadPoller) leadsOfContacts(ctx context.Context, contacts map[int64]ivvy.Contact, changed map[int64]ivvy.Lead,
	all []ivvy.Lead, full bool) ([]contactChange, error) {
	need := map[int64]bool{}
	for cid := range contacts {
		need[cid] = true
	}
	for _, l := range changed {
		delete(need, contactOf(l))
	}
	if len(need) == 0 {
		return nil, nil
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
		return nil, nil
	}
	cids := make([]int64, 0, len(need))
	for cid := range need {
		cids = append(cids, cid)
	}
	slices.Sort(cids)
	var partial []contactChange
	var unknown []int64
	for _, cid := range cids {
		lead, err := p.linkedLead(ctx, cid)
		if err != nil {
			return nil, err
		}
		if lead > 0 {
			partial = append(partial, contactChange{lead: lead, contact: contacts[cid]})
		} else {
			unknown = append(unknown, cid)
		}
	}
	scan := func() ([]contactChange, error) {
		leads, err := p.scanAll(ctx)
		if err != nil {
			return nil, err
		}
		add(leads)
		return partial, nil
	}
	for _, cid := range unknown {
		if p.refused[filterContact] {
			return scan()
		}
		pg, err := p.cfg.Client.GetLeadList(ctx, ivvy.ListQuery{PerPage: p.cfg.PerPage, Filter: map[string]any{"contactId": cid}})
		if ivvy.IsRefused(err) {
			// Refused, or the request is: the whole list tells which.
			out, err2 := scan()
			if err2 != nil {
				return nil, err
			}
			p.refuse(filterContact, err)
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		honoured := pg.Done()
		for _, l := range pg.Results {
			honoured = honoured && contactOf(l) == cid
		}
		if !honoured {
			// The contactId filter is ignored: read the whole list once.
			return scan()
		}
		add(pg.Results)
	}
	return partial, nil
}

// linkedLead returns the iVvy lead the identity map links a contact to, or
// 0 when it links none, or when the lead's newest contact link is another
// contact (the lead was moved to another contact since: the old link is
// stale).
func (p *LeadPoller) linkedLead(ctx context.Context, contactID int64) (int64, error) {
	if p.cfg.Identity == nil {
		return 0, nil
	}
	canon, err := p.cfg.Identity.Lookup(ctx, mappings.IVvyContactKey(contactID))
	if errors.Is(err, pipeline.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	ids := []string{canon}
	contact, err := p.cfg.Identity.VendorKeys(ctx, "ivvy", "lead", mappings.KindContact, ids)
	if err != nil {
		return 0, err
	}
	if contact[canon] != strconv.FormatInt(contactID, 10) {
		return 0, nil
	}
	lead, err := p.cfg.Identity.VendorKeys(ctx, "ivvy", "lead", pipeline.KindID, ids)
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(lead[canon], 10, 64)
	if err != nil || id <= 0 {
		return 0, nil
	}
	return id, nil
}

func (p *LeadPoller) scanAll(ctx context.Context) ([]ivvy.Lead, error) {
	return p.readLeads(ctx, nil, false)
}

// publish sends one lead's event unless its fields equal the last published.
func (p *LeadPoller) publish(ctx context.Context, l ivvy.Lead, c ivvy.Contact) (bool, error) {
	fields := mappings.IVvyLeadFields(l)
	changedAt := l.Modified()
	if c.ID > 0 && int64(c.ID) == contactOf(l) {
		// The contact as the contact list gave it, not as the lead list
		// embedded it: the lead list is read first, and a contact edited
		// between the two reads shows its old fields there. Published from
		// the lead list, the edit would be taken for content already
		// published, while the cursor moved past it: never published.
		maps.Copy(fields, mappings.IVvyContactFields(c))
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

// publishContact sends the fields of a changed contact as a change of its
// lead (a partial event: the lead's other fields did not change) unless
// they equal what was last published for the contact.
func (p *LeadPoller) publishContact(ctx context.Context, leadID int64, c ivvy.Contact) (bool, error) {
	fields := mappings.IVvyContactFields(c)
	ev := pipeline.Event{Vendor: "ivvy", Entity: "lead", ExternalID: strconv.FormatInt(leadID, 10),
		Version: "contact " + norm(c.ModifiedDate), Fields: fields, ChangedAt: c.Modified(), Origin: p.cfg.Origin}
	if err := ev.Seal(); err != nil {
		return false, err
	}
	cid := strconv.FormatInt(int64(c.ID), 10)
	hash := pipeline.FieldsHash(fields)
	if prev, err := p.cfg.State.Delivery(ctx, ev.Vendor, "contact", cid); err == nil && prev == hash {
		return false, nil
	}
	if err := p.cfg.Publisher.Publish(ctx, ev); err != nil {
		return false, fmt.Errorf("ivvy poller: publish contact %s of lead %s: %w", cid, ev.ExternalID, err)
	}
	p.log.Debug("published a contact change", "lead", ev.ExternalID, "contact", cid, "event", ev.ID)
	return true, p.cfg.State.RecordDelivery(ctx, ev.Vendor, "contact", cid, hash, ev.ID)
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

// Step runs one Poll (pipeline.Stepper).
func (p *LeadPoller) Step(ctx context.Context) (int, error) { return p.Poll(ctx) }

// Publishes is the poller's source name (pipeline.Stepper).
func (p *LeadPoller) Publishes() string { return p.cfg.Name }
