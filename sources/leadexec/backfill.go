package leadexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

// HistoryStart is where a lead backfill without Since starts: before any
// LeadExec account existed (the lead data API needs a StartDate).
var HistoryStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultBackfillLag keeps an open-ended lead backfill this far behind the
// clock: leads added later are still being delivered to the webhook.
const DefaultBackfillLag = time.Minute

// ErrBadBackfillCursor says a stored backfill cursor is not one of this
// package's pagers wrote: the run cannot resume from it.
var ErrBadBackfillCursor = errors.New("not a leadexec backfill cursor")

// LeadPager pages through LeadExec's leads for a backfill (`crmsync
// backfill --source leadexec.lead`), one lead type after the other, with
// the lead data API (POST /v1/leads/query/{LeadTypeUID}) sorted by
// DateAdded. It implements pipeline.Pager.
//
// The cursor is the keyed position {lead type, "from": the newest DateAdded
// published, "seen": the LeadUIDs published that were added at exactly that
// time, "end": the range's end}, never a Skip offset, so leads added to
// LeadExec during the run shift nothing: each page asks for the leads added
// from the watermark on and leaves out the ones seen. Leads added at one
// instant are told apart by id, not by their order in the answer; Skip is
// used only inside one page, past leads already seen (more leads added at
// one instant than a page holds). No page size is assumed: Take asks, the
// answer decides. The range's end is fixed on the first page (Until, or now
// minus Lag), so a resumed run covers the same leads.
//
// Each lead is published as the safety net publishes a lead the webhook
// missed: the same vendor, entity, external id (LeadUID), fields (renamed by
// FieldMap as the delivery renames them) and change time (DateAdded), so the
// identity map and the write ledger recognise a lead the webhook already
// carried.
type LeadPager struct {
	API LeadQueryAPI
	// LeadTypes are the lead type UIDs to page through, in this order
	// (config leadexec.safety_net.lead_types); required.
	LeadTypes []int64
	// FieldMap renames lead fields as the webhook delivery names them.
	FieldMap map[string]string
	// Since and Until bound DateAdded (inclusive); zero means open.
	Since, Until time.Time
	// PageSize is the query's Take; default 500.
	PageSize int
	// Lag keeps an open range's end this far behind now; default
	// DefaultBackfillLag.
	Lag time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// leadCursorJSON is LeadPager's persisted place.
type leadCursorJSON struct {
	V        int       `json:"v"`
	LeadType int64     `json:"lead_type"`
	From     time.Time `json:"from"`
	Seen     []int64   `json:"seen,omitempty"`
	End      time.Time `json:"end"`
}

const leadCursorVersion = 1

func (p *LeadPager) start() time.Time {
	if p.Since.IsZero() {
		return HistoryStart
	}
	return p.Since.UTC()
}

func (p *LeadPager) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

func (p *LeadPager) end() time.Time {
	return poll.RangeEnd(p.now, poll.NoneOrDefault(p.Lag, DefaultBackfillLag), p.Until)
}

func (p *LeadPager) pageSize() int {
	if p.PageSize <= 0 {
		return DefaultSafetyNetPageSize
	}
	return p.PageSize
}

// Page implements pipeline.Pager: the events of the next leads by
// DateAdded and the cursor after them ("" after the last lead type). A
// cursor the pager did not write, or naming a lead type no longer
// configured, gives an error wrapping ErrBadBackfillCursor.
func (p *LeadPager) Page(ctx context.Context, cursor string) ([]pipeline.Event, string, error) {
	if len(p.LeadTypes) == 0 {
		return nil, "", errors.New("leadexec lead backfill: no lead types (set leadexec.safety_net.lead_types)")
	}
	cur, err := p.decode(cursor)
	if err != nil {
		return nil, "", err
	}
	i := slices.Index(p.LeadTypes, cur.LeadType)
	if i < 0 {
		return nil, "", p.bad(cursor, fmt.Sprintf("lead type %d is not configured", cur.LeadType))
	}
	next := cur
	next.Seen = slices.Clone(cur.Seen)
	var evs []pipeline.Event
	if cur.From.After(cur.End) {
		return p.after(i, cur, evs)
	}
	q := leadexec.Query{StartDate: cur.From, EndDate: cur.End, Take: p.pageSize(), SortFields: []string{"DateAdded"}, SortOrder: "ASC"}
	for {
		page, err := p.API.QueryLeads(ctx, cur.LeadType, q)
		if err != nil {
			return nil, "", fmt.Errorf("leadexec lead backfill: lead type %d: leads added from %s: %w",
				cur.LeadType, cur.From.Format(time.RFC3339Nano), err)
		}
		for _, l := range page.Leads {
			at := l.DateAdded.UTC()
			switch {
			case l.DateAdded.IsZero():
				return nil, "", fmt.Errorf("leadexec lead backfill: lead type %d: lead %d has no DateAdded", cur.LeadType, l.UID)
			case at.Before(next.From):
				if at.Before(cur.From) {
					continue // outside the range asked for
				}
				return nil, "", fmt.Errorf("leadexec lead backfill: lead type %d: lead %d (added %s) listed after a lead added %s: "+
					"the answer is not in DateAdded order, so a keyed place cannot be kept", cur.LeadType, l.UID,
					at.Format(time.RFC3339Nano), next.From.Format(time.RFC3339Nano))
			case at.Equal(next.From):
				if slices.Contains(next.Seen, l.UID) {
					continue
				}
				next.Seen = append(next.Seen, l.UID)
			default:
				next.From, next.Seen = at, []int64{l.UID}
			}
			evs = append(evs, queryLeadEvent(l, p.FieldMap, p.now))
		}
		nq, more := page.Next(q)
		if !more {
			return p.after(i, next, evs)
		}
		if len(evs) > 0 {
			return evs, next.encode(), nil
		}
		// A page of leads already published (added at the watermark): read
		// on to the first new one.
		q = nq
	}
}

// after returns the page's events with the cursor of the next lead type,
// or "" after the last one.
func (p *LeadPager) after(i int, cur leadCursorJSON, evs []pipeline.Event) ([]pipeline.Event, string, error) {
	if i+1 >= len(p.LeadTypes) {
		return evs, "", nil
	}
	return evs, leadCursorJSON{V: leadCursorVersion, LeadType: p.LeadTypes[i+1], From: p.start(), End: cur.End}.encode(), nil
}

// Total implements pipeline.Pager: the leads of every lead type in the
// range, as LeadExec counts them (one request per lead type), or -1 when
// an answer does not say.
func (p *LeadPager) Total(ctx context.Context) (int64, error) {
	var total int64
	start, end := p.start(), p.end()
	if end.Before(start) {
		return 0, nil
	}
	for _, lt := range p.LeadTypes {
		page, err := p.API.QueryLeads(ctx, lt, leadexec.Query{StartDate: start, EndDate: end, Take: 1})
		if err != nil {
			return -1, err
		}
		if page.Total < 0 {
			return -1, nil
		}
		total += int64(page.Total)
	}
	return total, nil
}

func (c leadCursorJSON) encode() string {
	c.From, c.End = c.From.UTC(), c.End.UTC()
	b, _ := json.Marshal(c)
	return string(b)
}

func (p *LeadPager) bad(s, why string) error {
	return poll.BadBackfillCursor("leadexec lead backfill", s, why, ErrBadBackfillCursor)
}

func (p *LeadPager) decode(s string) (leadCursorJSON, error) {
	if s == "" {
		return leadCursorJSON{V: leadCursorVersion, LeadType: p.LeadTypes[0], From: p.start(), End: p.end()}, nil
	}
	var c leadCursorJSON
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, p.bad(s, "not readable")
	}
	if c.V != leadCursorVersion {
		return c, p.bad(s, fmt.Sprintf("version %d is not %d", c.V, leadCursorVersion))
	}
	if c.From.IsZero() || c.End.IsZero() {
		return c, p.bad(s, "from or end is missing")
	}
	c.From, c.End = c.From.UTC(), c.End.UTC()
	return c, nil
}
