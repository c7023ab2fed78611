package checkpoints

import (
	"context"
	"sync"

	"github.com/crmsync/crmsync/checkpoints/internal/compact"
)

// deliveryQueue commits delivery receipts in groups. Every webhook delivery
// and every polled record writes one receipt; one transaction each would
// spend most of the state database's time committing. A caller that finds
// no commit running writes what is queued (its own receipt and any that
// arrive meanwhile) in one transaction, again until the queue is empty;
// the others wait for the commit that holds theirs. No one waits on a timer:
// alone, a receipt is committed at once, as before.
type deliveryQueue struct {
	mu      sync.Mutex
	pending []*receipt
	writing bool
}

type receipt struct {
	vendor, entity, externalID, contentHash, eventID string
	done                                             chan error
}

// maxReceiptsPerCommit bounds one transaction, so that a long queue does
// not hold the writer connection for long.
const maxReceiptsPerCommit = 512

// RecordDelivery stores the content hash of a pushed record once its event
// is on the bus. It returns when the receipt is committed.
func (s *Store) RecordDelivery(ctx context.Context, vendor, entity, externalID, contentHash, eventID string) error {
	r := &receipt{vendor: vendor, entity: entity, externalID: externalID, contentHash: contentHash, eventID: eventID,
		done: make(chan error, 1)}
	q := &s.deliveries
	q.mu.Lock()
	q.pending = append(q.pending, r)
	if q.writing {
		q.mu.Unlock()
		select {
		case err := <-r.done:
			return err
		case <-ctx.Done():
			// The receipt may still be committed; a receipt of a record
			// that is on the bus is true either way.
			return ctx.Err()
		}
	}
	q.writing = true
	for len(q.pending) > 0 {
		n := min(len(q.pending), maxReceiptsPerCommit)
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		q.mu.Unlock()
		// The batch holds others' receipts: the caller's cancellation must
		// not fail theirs.
		err := s.writeReceipts(context.WithoutCancel(ctx), batch)
		for _, b := range batch {
			b.done <- err
		}
		q.mu.Lock()
	}
	q.pending, q.writing = nil, false
	q.mu.Unlock()
	return <-r.done
}

func (s *Store) writeReceipts(ctx context.Context, batch []*receipt) error {
	err := s.Update(ctx, func(tx *Tx) error {
		for _, r := range batch {
			space, err := tx.space(ctx, r.vendor, r.entity, "")
			if err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `INSERT INTO deliveries (space, external_id, content_hash, event_id, received_at)
				VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (space, external_id) DO UPDATE SET content_hash = excluded.content_hash,
					event_id = excluded.event_id, received_at = excluded.received_at`,
				space, r.externalID, compact.ID(r.contentHash), compact.Prefixed(eventIDPrefix(r.vendor, r.entity), r.eventID),
				tx.nowNs); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("record delivery", err)
}

// eventIDPrefix is how the ids of a record's events start (see
// pipeline.Event): the receipts leave it out of the stored id.
func eventIDPrefix(vendor, entity string) string { return vendor + "-" + entity + "-" }
