package sharpspring

import (
	"context"
	"fmt"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/snapshots"
	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// ClientPager publishes one snapshot of SharpSpring's agency clients for a
// backfill (`crmsync backfill --source sharpspring.client`). It implements
// pipeline.Pager.
//
// getClients has no paging parameters and clients carry no timestamps, so
// every page reads the whole list (one request) and publishes the next
// PageSize clients by id after the cursor's (snapshots.PageIDs): the place
// is a client id, so clients added or removed during the run shift nothing.
// Each client is published as the client poller publishes a new one (same
// vendor, entity, id and fields), with the time its page was read as its
// change time. There is no creation time to select a range by.
type ClientPager struct {
	API ClientAPI
	// PageSize is how many clients a page publishes; default 500.
	PageSize int
	// Now is the clock (the events' change time); default time.Now.
	Now func() time.Time
}

// Page implements pipeline.Pager. A cursor the pager did not write gives an
// error wrapping snapshots.ErrBadPageCursor.
func (p *ClientPager) Page(ctx context.Context, cursor string) ([]pipeline.Event, string, error) {
	list, err := p.API.GetClients(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("sharpspring client backfill: %w", err)
	}
	recs := clientRecords(list)
	byID := make(map[string]snapshots.Record, len(recs))
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		byID[r.ID] = r
		ids = append(ids, r.ID)
	}
	size := p.PageSize
	size = poll.OrDefault(size, sharpspring.MaxObjects)
	page, next, err := snapshots.PageIDs(ids, cursor, size, snapshots.CompareNumeric)
	if err != nil {
		return nil, "", fmt.Errorf("sharpspring client backfill: %w", err)
	}
	out := make([]snapshots.Record, len(page))
	for i, id := range page {
		out[i] = byID[id]
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return snapshots.BackfillEvents("sharpspring", "client", out, now()), next, nil
}

// Total implements pipeline.Pager: the number of active clients (one
// request).
func (p *ClientPager) Total(ctx context.Context) (int64, error) {
	list, err := p.API.GetClients(ctx)
	if err != nil {
		return -1, err
	}
	return int64(len(clientRecords(list))), nil
}
