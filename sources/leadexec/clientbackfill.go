package leadexec

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/snapshots"
	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

// ClientPager publishes one snapshot of LeadExec's clients for a backfill
// (`crmsync backfill --source leadexec.client`). It implements
// pipeline.Pager.
//
// GetClientList has no paging, so every page reads the whole list (one
// request), picks the next PageSize clients by ClientUID after the
// cursor's (snapshots.PageIDs: the place is a ClientUID, so clients added
// or removed during the run shift nothing) and reads each one's fields
// (GetClientData, one request per client). Each client is published as the
// client poller publishes a new one (same vendor, entity, id and fields;
// empty fields left out), with the time its page was read as its change
// time.
//
// Since and Until select clients by DateAdded (inclusive), the only date
// LeadExec keeps for a client; zero means open.
type ClientPager struct {
	API ClientAPI
	// Since and Until bound the clients' DateAdded; zero means open.
	Since, Until time.Time
	// PageSize is how many clients a page publishes; default 50 (each
	// costs a GetClientData request).
	PageSize int
	// Now is the clock (the events' change time); default time.Now.
	Now func() time.Time
}

func (p *ClientPager) list(ctx context.Context) (map[string]leadexec.ClientInfo, []string, error) {
	list, err := p.API.GetClientList(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("leadexec client backfill: %w", err)
	}
	byID := make(map[string]leadexec.ClientInfo, len(list))
	ids := make([]string, 0, len(list))
	for _, c := range list {
		if c.ClientUID <= 0 {
			continue
		}
		if (!p.Since.IsZero() && c.DateAdded.Before(p.Since)) || (!p.Until.IsZero() && c.DateAdded.After(p.Until)) {
			continue
		}
		id := strconv.FormatInt(c.ClientUID, 10)
		if _, dup := byID[id]; !dup {
			byID[id] = c
			ids = append(ids, id)
		}
	}
	return byID, ids, nil
}

// Page implements pipeline.Pager. A cursor the pager did not write gives an
// error wrapping snapshots.ErrBadPageCursor.
func (p *ClientPager) Page(ctx context.Context, cursor string) ([]pipeline.Event, string, error) {
	byID, ids, err := p.list(ctx)
	if err != nil {
		return nil, "", err
	}
	size := p.PageSize
	size = poll.OrDefault(size, 50)
	page, next, err := snapshots.PageIDs(ids, cursor, size, snapshots.CompareNumeric)
	if err != nil {
		return nil, "", fmt.Errorf("leadexec client backfill: %w", err)
	}
	recs := make([]snapshots.Record, 0, len(page))
	for _, id := range page {
		c := byID[id]
		fs, err := p.API.GetClientData(ctx, c.ClientUID)
		if err != nil {
			return nil, "", fmt.Errorf("leadexec client backfill: client %s: %w", id, err)
		}
		fields := clientEventFields(c, fs)
		for k, v := range fields {
			if v == "" {
				delete(fields, k) // as the poller's first snapshot: a blank says nothing
			}
		}
		recs = append(recs, snapshots.Record{ID: id, Fields: fields})
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return snapshots.BackfillEvents("leadexec", "client", recs, now()), next, nil
}

// Total implements pipeline.Pager: the clients in the range (one request).
func (p *ClientPager) Total(ctx context.Context) (int64, error) {
	_, ids, err := p.list(ctx)
	if err != nil {
		return -1, err
	}
	return int64(len(ids)), nil
}
