package sharpspring

import (
	"context"
	"fmt"
	"html"
	"sort"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// DeletedVersion is the Version of the delete event of a lead that no
// longer exists. A SharpSpring id is never reused, so the event is unique
// per lead and a repeated sweep yields the same event id.
const DeletedVersion = "deleted"

// SweepResult describes one sweep.
type SweepResult struct {
	Listed      int // active leads listed by getLeads where {}
	Checked     int // known leads missing from the listing, looked up by id
	Deactivated int // published as upserts with active "0"
	Deleted     int // published as deletes
}

// Sweep finds leads that were deactivated or deleted, which the date range
// never shows. It lists every active lead (getLeads, where {}, offset
// paging by 500), looks up by id the known leads that were not listed
// (getLeads by id also returns inactive leads; a lead skipped by unstable
// paging is found active and kept), and publishes:
//
//   - a deactivated lead as an upsert (Op "upsert") carrying all its fields,
//     active "0" among them, Version its updateTimestamp: it still exists
//     and can be reactivated, so targets get a field change, not a delete;
//   - a deleted lead as Op "delete" with no fields and Version
//     DeletedVersion.
//
// Known leads are those of the last sweep's listing plus every lead a
// window published since; the first sweep only records the listing. The
// cursor is saved after every event was published.
func (p *LeadPoller) Sweep(ctx context.Context) (SweepResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var res SweepResult
	cur, err := p.load(ctx)
	if err != nil {
		return res, err
	}
	known, err := decodeIDs(cur.Known)
	if err != nil {
		return res, err
	}
	listed := map[int64]bool{}
	for offset := 0; ; offset += sharpspring.MaxObjects {
		page, err := p.api.GetLeads(ctx, sharpspring.GetLeadsQuery{Limit: sharpspring.MaxObjects, Offset: offset, Fields: []string{"id"}})
		if err != nil {
			return res, fmt.Errorf("%s: sweep: %w", p.cfg.Name, err)
		}
		for _, l := range page {
			listed[l.ID()] = true
		}
		if len(page) < sharpspring.MaxObjects {
			break
		}
	}
	res.Listed = len(listed)

	var missing []int64
	for id := range known {
		if !listed[id] {
			missing = append(missing, id)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
	res.Checked = len(missing)
	var evs []pipeline.Event
	next := listed
	for start := 0; start < len(missing); start += sharpspring.MaxObjects {
		chunk := missing[start:min(start+sharpspring.MaxObjects, len(missing))]
		found, err := p.api.GetLeads(ctx, sharpspring.GetLeadsQuery{IDs: chunk})
		if err != nil {
			return res, fmt.Errorf("%s: sweep: %w", p.cfg.Name, err)
		}
		byID := indexByID(found)
		for _, id := range chunk {
			l, ok := byID[id]
			switch {
			case !ok:
				ev := pipeline.Event{
					Vendor: "sharpspring", Entity: "lead", ExternalID: strconv.FormatInt(id, 10),
					Op: pipeline.OpDelete, Version: DeletedVersion, Fields: map[string]string{},
					ChangedAt: p.cfg.Now().UTC(), Origin: pipeline.OriginLive,
				}
				if err := ev.Seal(); err != nil {
					return res, err
				}
				evs = append(evs, ev)
				res.Deleted++
			case html.UnescapeString(l["active"]) == "1":
				next[id] = true // the listing skipped it (unstable paging)
			default:
				ev, _, err := p.leadEvent(l)
				if err != nil {
					return res, err
				}
				evs = append(evs, ev)
				res.Deactivated++
			}
		}
	}
	for _, ev := range evs {
		if err := p.pub.Publish(ctx, ev); err != nil {
			return res, fmt.Errorf("%s: sweep: publish lead %s: %w", p.cfg.Name, ev.ExternalID, err)
		}
	}
	cur.Known = encodeIDs(next)
	cur.SweptAt = p.cfg.Now().UTC().Format(time.RFC3339)
	if err := p.save(ctx, cur); err != nil {
		return res, fmt.Errorf("%s: sweep: save cursor: %w", p.cfg.Name, err)
	}
	p.count(func(s *LeadPollerStats) { s.Sweeps++; s.Deactivated += res.Deactivated; s.Deleted += res.Deleted })
	return res, nil
}
