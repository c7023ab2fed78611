package ivvy

import (
	"context"
	"errors"
	"maps"

	"github.com/crmsync/crmsync/vendors/ivvy"
)

// maxListRestarts bounds how often one read of a list starts again after
// the list shifted under it; past that the poll fails and the next one
// reads the window again (the cursor did not move).
const maxListRestarts = 3

// errListShifted reports a list that kept shifting while it was paged.
var errListShifted = errors.New("ivvy poller: getLeadList kept shifting while it was paged")

// readLeads reads every lead that filter (nil: none) selects, so that no
// lead is skipped when another leaves the list while it is paged. Paging by
// offset alone skips: a lead deleted (or moved) after its page was read
// shifts every later lead down by one, and the lead crossing the page
// boundary is never read.
//
// With keyset, the pages after the first are asked for by id instead of by
// offset: the filter plus id__GREATERTHAN (≥) one past the last id read, at
// start 0. iVvy documents the __GREATERTHAN modifier but neither an id
// filter on leads nor the list's order, so each keyset answer is checked:
// its ids must be ascending and above the last id read, and its
// totalResults must be what was left of the list (fewer means a lead with
// a lower id was not read yet: the list is not in id order). An answer that
// fails the check switches to offset paging for the rest of the read.
//
// Offset paging overlaps pages by one lead and checks it: the page after
// one ending with lead L must start with L. Any other first lead means the
// list shifted under the read, which then starts again from offset 0 (what
// was read is kept, de-duplicated by id, the latest read of a lead winning),
// at most maxListRestarts times.
//
// A keyset page refused by iVvy (ivvy.IsRefused) turns keyset paging off
// for the process and the read goes on by offset.
//
// A lead added to the list, or edited, while it is paged may be missed
// either way; the poller reads it in a later window, whose watermark the
// read keeps low enough (see pagedWatermark).
func (p *LeadPoller) readLeads(ctx context.Context, filter map[string]any, keyset bool) ([]ivvy.Lead, error) {
	var out []ivvy.Lead
	at := map[int64]int{} // id → index in out
	add := func(leads []ivvy.Lead) {
		for _, l := range leads {
			if i, ok := at[int64(l.ID)]; ok {
				out[i] = l // read again: the later read is the newer
				continue
			}
			at[int64(l.ID)] = len(out)
			out = append(out, l)
		}
	}
	get := func(start int, f map[string]any) (ivvy.Page[ivvy.Lead], error) {
		p.leadPages++
		return p.cfg.Client.GetLeadList(ctx, ivvy.ListQuery{PerPage: p.cfg.PerPage, Start: start, Filter: f})
	}
	pg, err := get(0, filter)
	if err != nil {
		return nil, err
	}
	p.firstPageNewest = ""
	for _, l := range pg.Results {
		p.firstPageNewest = max(p.firstPageNewest, norm(l.ModifiedDate))
	}
	add(pg.Results)
	if pg.Done() {
		return out, nil
	}
	if !keyset || p.refused[filterID] || !ascending(pg.Results, 0) {
		// Offset paging goes on from the page in hand.
		if err := p.readLeadsByOffset(ctx, filter, add, &pg); err != nil {
			return nil, err
		}
		return out, nil
	}
	left := int(pg.Meta.TotalResults) - len(pg.Results)
	for {
		last := int64(pg.Results[len(pg.Results)-1].ID)
		f := maps.Clone(filter)
		if f == nil {
			f = map[string]any{}
		}
		f["id__GREATERTHAN"] = last + 1
		if pg, err = get(0, f); ivvy.IsRefused(err) {
			// The id filter is refused (the same list without it was
			// just answered): page by offset from now on.
			p.refuse(filterID, err)
			break
		} else if err != nil {
			return nil, err
		}
		if int(pg.Meta.TotalResults) != left || !ascending(pg.Results, last) {
			p.log.Debug("getLeadList is not paged by id; paging by offset", "filter", filter)
			break
		}
		add(pg.Results)
		if pg.Done() {
			return out, nil
		}
		left -= len(pg.Results)
	}
	if err := p.readLeadsByOffset(ctx, filter, add, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// readLeadsByOffset pages the list by offset with one lead of overlap (see
// readLeads), passing every page to add. first, when given, is the page at
// offset 0, already passed to add and not done.
func (p *LeadPoller) readLeadsByOffset(ctx context.Context, filter map[string]any, add func([]ivvy.Lead), first *ivvy.Page[ivvy.Lead]) error {
	restarts := 0
	var anchor int64 // last lead of the previous page; 0 at offset 0
	start := 0
	if first != nil {
		if n := len(first.Results); n < 2 {
			start = n
		} else {
			start, anchor = n-1, int64(first.Results[n-1].ID)
		}
	}
	for {
		p.leadPages++
		pg, err := p.cfg.Client.GetLeadList(ctx, ivvy.ListQuery{PerPage: p.cfg.PerPage, Start: start, Filter: filter})
		if err != nil {
			return err
		}
		if anchor != 0 && (len(pg.Results) == 0 || int64(pg.Results[0].ID) != anchor) {
			if restarts == maxListRestarts {
				return errListShifted
			}
			restarts++
			start, anchor = 0, 0
			continue
		}
		add(pg.Results)
		if pg.Done() {
			return nil
		}
		n := len(pg.Results)
		if n < 2 {
			// A one-lead page leaves no room for an overlap (a perPage of
			// 1): page without it.
			start, anchor = start+n, 0
			continue
		}
		start, anchor = start+n-1, int64(pg.Results[n-1].ID)
	}
}

// ascending reports whether the leads' ids rise strictly, all above after.
func ascending(leads []ivvy.Lead, after int64) bool {
	for _, l := range leads {
		if int64(l.ID) <= after {
			return false
		}
		after = int64(l.ID)
	}
	return true
}
