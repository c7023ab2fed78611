package getlead

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/getlead"
)

// LeadLister is what LeadPager needs from the V3 client (*getlead.V3
// implements it).
type LeadLister interface {
	ListLeads(ctx context.Context, q getlead.ListQuery) (getlead.Page, error)
}

// ErrBadBackfillCursor says a stored backfill cursor is not one LeadPager
// wrote: the run cannot resume from it.
var ErrBadBackfillCursor = errors.New("not a getlead lead backfill cursor")

// LeadPager pages through Getlead's leads for a backfill (`crmsync backfill
// --source getlead.lead`). It implements pipeline.Pager.
//
// It walks GET /leads sorted by created_at, oldest first, from a
// created_at[from] watermark, as the poller does: the cursor is the keyed
// position {"from": the newest creation time published, "seen": the ids
// published that were created at exactly that time}, never Getlead's own
// list cursor (an opaque token whose lifetime Getlead does not document)
// and never an offset. Leads created at one time are told apart by id, not
// by their order in the list, which Getlead does not document; Getlead's
// list cursor is followed only inside one page, past leads already seen
// (more leads created at one time than a list page holds). No page size is
// assumed: a page ends where Getlead's answer ends. A lead's creation time
// never changes, so leads created or updated during the run shift nothing:
// each lead is published once, with its fields as they are when its page is
// read, as the poller would publish it (same event id for the same state).
//
// Since and Until bound created_at (inclusive); zero means open. Without
// Until the run ends at the end of Getlead's list.
type LeadPager struct {
	API LeadLister
	// CountryCode splits numbers Getlead returns without a "+"; default
	// mappings.DefaultGetleadCountryCode.
	CountryCode string
	// PerPage leads asked for per request; default 50 (what Getlead's own
	// integration asks for).
	PerPage int
	// Since and Until bound the leads' creation time; zero means open.
	Since, Until time.Time
}

// backfillCursorJSON is LeadPager's persisted place, guarded by a golden
// test.
type backfillCursorJSON struct {
	V int `json:"v"`
	// From is the newest creation time published (RFC 3339, UTC); absent
	// before the first lead.
	From *time.Time `json:"from,omitempty"`
	// Seen are the ids published that were created at exactly From.
	Seen []string `json:"seen,omitempty"`
}

const backfillCursorVersion = 1

func (p *LeadPager) perPage() int {
	if p.PerPage <= 0 {
		return 50
	}
	return p.PerPage
}

func (p *LeadPager) countryCode() string {
	if p.CountryCode == "" {
		return mappings.DefaultGetleadCountryCode
	}
	return p.CountryCode
}

// Page implements pipeline.Pager: the events of the next leads by creation
// time and the cursor after them ("" once the list, or the range, ended).
// A cursor the pager did not write gives an error wrapping
// ErrBadBackfillCursor.
func (p *LeadPager) Page(ctx context.Context, cursor string) ([]pipeline.Event, string, error) {
	cur, err := decodeBackfillCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	if cur.From.IsZero() && !p.Since.IsZero() {
		cur.From = p.Since.UTC()
	}
	next := Cursor{From: cur.From, Seen: slices.Clone(cur.Seen)}
	q := getlead.ListQuery{PerPage: p.perPage(), SortBy: "created_at", SortDirection: "asc", CreatedFrom: cur.From}
	var evs []pipeline.Event
	for {
		page, err := p.API.ListLeads(ctx, q)
		if err != nil {
			return nil, "", fmt.Errorf("getlead lead backfill: leads created from %s: %w", cur.From.Format(time.RFC3339Nano), err)
		}
		for _, l := range page.Leads {
			switch {
			case l.CreatedAt.IsZero():
				// No creation time to keep a place by. Getlead does not
				// return such a lead once created_at[from] is set, so it is
				// published on the first pages only, once.
				if !cur.From.IsZero() || slices.Contains(next.Seen, l.ID) {
					continue
				}
				next.Seen = append(next.Seen, l.ID)
			case !p.Until.IsZero() && l.CreatedAt.After(p.Until):
				return evs, "", nil // the rest of the list is later still
			case l.CreatedAt.Before(next.From):
				if l.CreatedAt.Before(cur.From) {
					continue // before the watermark Getlead was asked for
				}
				return nil, "", fmt.Errorf("getlead lead backfill: lead %s (created %s) listed after a lead created %s: "+
					"the list is not in created_at order, so a keyed place cannot be kept", l.ID,
					l.CreatedAt.Format(time.RFC3339Nano), next.From.Format(time.RFC3339Nano))
			case l.CreatedAt.Equal(next.From):
				if slices.Contains(next.Seen, l.ID) {
					continue
				}
				next.Seen = append(next.Seen, l.ID)
			default:
				next.From, next.Seen = l.CreatedAt, []string{l.ID}
			}
			evs = append(evs, leadEvent(l, p.countryCode()))
		}
		if page.NextCursor == "" {
			return evs, "", nil
		}
		if len(evs) > 0 {
			return evs, encodeBackfillCursor(next), nil
		}
		// A page of leads already published (created at the watermark):
		// read on to the first new one.
		if page.NextCursor == q.Cursor {
			return nil, "", fmt.Errorf("getlead lead backfill: Getlead answered the list cursor with itself")
		}
		q.Cursor = page.NextCursor
	}
}

// Total implements pipeline.Pager: Getlead counts nothing, so it is -1.
func (p *LeadPager) Total(context.Context) (int64, error) { return -1, nil }

func encodeBackfillCursor(c Cursor) string {
	j := backfillCursorJSON{V: backfillCursorVersion, Seen: c.Seen}
	if !c.From.IsZero() {
		from := c.From.UTC()
		j.From = &from
	}
	b, _ := json.Marshal(j)
	return string(b)
}

func decodeBackfillCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	bad := func(why string) error {
		return poll.BadBackfillCursor("getlead lead backfill", s, why, ErrBadBackfillCursor)
	}
	var j backfillCursorJSON
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Cursor{}, bad("not readable")
	}
	if j.V != backfillCursorVersion {
		return Cursor{}, bad(fmt.Sprintf("version %d is not %d", j.V, backfillCursorVersion))
	}
	var c Cursor
	if j.From != nil {
		c.From = j.From.UTC()
	}
	for i, id := range j.Seen {
		if strings.TrimSpace(id) == "" {
			return Cursor{}, bad(fmt.Sprintf("seen[%d] is not a lead id", i))
		}
	}
	c.Seen = j.Seen
	return c, nil
}
