package sharpspring

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// maxPassesPerCall bounds the passes one call of busySecond.read makes
// before it reports that the second did not settle; the leads seen are
// kept, and the next call goes on from there.
const maxPassesPerCall = 8

// busySecond reads one second of a date range that holds a page of leads
// or more, trusting nothing SharpSpring does not document.
//
// SharpSpring documents at most 500 objects per request and documents no
// limit or offset for getLeadsDateRange at all. That larger limits are
// honoured is only observed; were one capped at 500 in silence, a page
// read "in one request with a larger limit" would look complete and the
// rest of the second would be lost. So no request asks for more than 500,
// and a full page only says "there may be more". A second cannot be split
// by time, and offset paging alone cannot be trusted either: the order is
// undocumented, and a lead of the second that changes (or is deactivated
// or deleted) between two pages leaves it, every later lead shifts down one
// place, and one lead is skipped with no duplicate to give it away.
//
// The second is therefore read in passes of pages at offsets 0, 500, …
// until a short page, whose offset plus length is how many leads the
// second held at that moment (count). A past second only ever loses leads
// (a change moves a lead to the present), so when the leads seen that are
// still in the second number count or more, they are every lead it held
// when counted: none was skipped. Whether a lead is still in the second is
// asked with getLeads by a list of ids, the documented way to read up to
// 500 given leads (inactive ones included), requesting three fields. When
// fewer are found, another pass reads the pages again, keeping what was
// seen; over several passes this also gathers the leads of an unstable
// order.
//
// Its state outlives a failed request: the caller keeps it and calls read
// again, and the failed request is the only one repeated.
type busySecond struct {
	at   time.Time
	size int
	seen map[int64]sharpspring.Lead // every lead read in the second, newest state
	// paging is true while a pass is under way; offset is its next page.
	paging bool
	offset int
	passes int // passes finished
	// count is how many leads the second held at the end of the last pass.
	count int
	// in records, for the ids checked since the last pass, whether the lead
	// is still in the second.
	in map[int64]bool
}

// newBusySecond starts reading second at from its first page, which came
// back full (size leads).
func newBusySecond(at time.Time, size int, first []sharpspring.Lead) *busySecond {
	b := &busySecond{at: at, size: size, seen: map[int64]sharpspring.Lead{}, paging: true, offset: size}
	merge(b.seen, first)
	return b
}

// resume returns the busySecond that goes on reading second at in pages of
// size, adding first, that second's first page (nil when it is being read
// already): b when it reads that second already, else a new one (b may be
// nil).
func (b *busySecond) resume(at time.Time, size int, first []sharpspring.Lead, log *slog.Logger) *busySecond {
	if b == nil || !b.at.Equal(at) || b.size != size {
		log.Debug("a page of leads or more in one second; reading it page by page", "second", at, "page", size)
		return newBusySecond(at, size, first)
	}
	merge(b.seen, first)
	return b
}

// busyCalls are the requests busySecond makes: a page of the second, and
// the leads of up to 500 ids (api's getLeads, fields busyFields) with
// stillIn deciding whether one is still in the second.
type busyCalls struct {
	page    func(ctx context.Context, limit, offset int) ([]sharpspring.Lead, error)
	api     LeadAPI
	stillIn func(sharpspring.Lead) bool
}

// busyFields are the fields a lookup needs to tell whether a lead is still
// in the second.
var busyFields = []string{"id", "updateTimestamp", "active"}

// read goes on reading the second and returns its leads once proven
// complete. An error leaves the state as it was before the failed request.
func (b *busySecond) read(ctx context.Context, c busyCalls) (map[int64]sharpspring.Lead, error) {
	for passes := 0; ; {
		if b.paging {
			pg, err := c.page(ctx, b.size, b.offset)
			if err != nil {
				return nil, err
			}
			fresh := 0
			for _, l := range pg {
				if _, ok := b.seen[l.ID()]; !ok {
					fresh++
				}
			}
			merge(b.seen, pg)
			if len(pg) >= b.size {
				if b.passes == 0 && fresh == 0 {
					// The first pass's later pages bring nothing new: the
					// offset is not honoured and the count can never be known.
					return nil, fmt.Errorf("second %s holds %d leads or more and getLeadsDateRange answers offset %d with leads already read: offsets are not honoured",
						b.at.Format(sharpspring.TimeLayout), b.offset+b.size, b.offset)
				}
				b.offset += b.size
				continue
			}
			b.count, b.offset, b.paging = b.offset+len(pg), 0, false
			b.in = map[int64]bool{}
			b.passes++
			passes++
		}
		if len(b.seen) >= b.count {
			if err := b.check(ctx, c); err != nil {
				return nil, err
			}
			if out := b.complete(); out != nil {
				return out, nil
			}
		}
		if passes >= maxPassesPerCall {
			return nil, fmt.Errorf("second %s: %d leads seen in %d passes, %d of them still in the second, which held %d: the second did not settle",
				b.at.Format(sharpspring.TimeLayout), len(b.seen), b.passes, b.inCount(), b.count)
		}
		b.paging = true
	}
}

// check looks up, 500 at a time, the leads seen that were not checked
// since the last pass.
func (b *busySecond) check(ctx context.Context, c busyCalls) error {
	var todo []int64
	for id := range b.seen {
		if _, ok := b.in[id]; !ok {
			todo = append(todo, id)
		}
	}
	for len(todo) > 0 {
		chunk := todo[:min(len(todo), sharpspring.MaxObjects)]
		found, err := c.api.GetLeads(ctx, sharpspring.GetLeadsQuery{IDs: chunk, Fields: busyFields})
		if err != nil {
			return err
		}
		byID := indexByID(found)
		for _, id := range chunk {
			l, ok := byID[id]
			b.in[id] = ok && c.stillIn(l)
		}
		todo = todo[len(chunk):]
	}
	return nil
}

func (b *busySecond) inCount() int {
	n := 0
	for _, in := range b.in {
		if in {
			n++
		}
	}
	return n
}

// complete returns the leads still in the second when they are at least as
// many as the second held at the last count, nil otherwise.
func (b *busySecond) complete() map[int64]sharpspring.Lead {
	if b.inCount() < b.count {
		return nil
	}
	out := make(map[int64]sharpspring.Lead, b.count)
	for id, in := range b.in {
		if in {
			out[id] = b.seen[id]
		}
	}
	return out
}
