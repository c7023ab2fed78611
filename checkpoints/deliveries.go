package checkpoints

import (
	"context"
	"sync"
	"time"

	"github.com/crmsync/crmsync/checkpoints/internal/compact"
)

// deliveryQueue commits delivery receipts in groups. Every webhook delivery
// and every polled record writes one receipt; one transaction each would
// spend most of the state database's time committing. Receipts queued while
// a commit runs are written together by the next one, until the queue is
// empty. A receipt queued behind the answer (QueueDelivery) waits up to
// receiptLinger for others to share its commit; one a caller waits for
// (RecordDelivery) is committed at once, with whatever is queued.
//
// RecordDelivery waits for the commit that holds its receipt. QueueDelivery
// does not: the webhook answers LeadExec once the event is on the bus, and
// its receipt is committed behind the answer. Until then Delivery finds it
// in the queue, so a retry of the same delivery is still recognised.
type deliveryQueue struct {
	mu      sync.Mutex
	pending []*receipt
	writing bool
	// queued is the newest receipt of each record not yet committed.
	queued map[receiptKey]*receipt
	// idle is signalled when a commit run ends (writing turns false), for
	// Close to wait on.
	idle *sync.Cond
	// failed is the error of the last queued receipt that could not be
	// committed; the next QueueDelivery returns it.
	failed error
	// hurry, while a commit run lingers before its first commit, ends the
	// wait when closed (nil otherwise).
	hurry chan struct{}
	// filter, once the Store claimed the receipts, holds every record that
	// has one, stored or queued (see ClaimReceipts); lookups use it once
	// filterReady.
	filter      *receiptFilter
	filterReady bool
}

type receiptKey struct{ vendor, entity, externalID string }

type receipt struct {
	vendor, entity, externalID, contentHash, eventID string
	done                                             chan error // nil for a queued receipt
}

// maxReceiptsPerCommit bounds one transaction, so that a long queue does
// not hold the writer connection for long.
const maxReceiptsPerCommit = 512

// receiptLinger is how long a receipt queued behind the webhook's answer
// waits for more to share its commit. At thousands of deliveries a second
// it turns commits of a few receipts into commits of dozens, and leaves the
// writer connection to the routes in between; nobody waits on it (Delivery
// finds a queued receipt in memory, and RecordDelivery and Close cut it
// short).
const receiptLinger = 10 * time.Millisecond

// RecordDelivery stores the content hash of a pushed record once its event
// is on the bus. It returns when the receipt is committed.
func (s *Store) RecordDelivery(ctx context.Context, vendor, entity, externalID, contentHash, eventID string) error {
	r := &receipt{vendor: vendor, entity: entity, externalID: externalID, contentHash: contentHash, eventID: eventID,
		done: make(chan error, 1)}
	q := &s.deliveries
	q.mu.Lock()
	q.pending = append(q.pending, r)
	q.filterAdd(r)
	if q.writing {
		q.cutLinger()
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
	q.mu.Unlock()
	// The batch holds others' receipts: the caller's cancellation must not
	// fail theirs.
	s.commitQueue(context.WithoutCancel(ctx))
	return <-r.done
}

// QueueDelivery stores the content hash of a pushed record once its event
// is on the bus, without waiting for the commit (see pipeline.QueuedReceipts).
// It returns the error of an earlier queued receipt that could not be
// committed, if any.
func (s *Store) QueueDelivery(_ context.Context, vendor, entity, externalID, contentHash, eventID string) error {
	r := &receipt{vendor: vendor, entity: entity, externalID: externalID, contentHash: contentHash, eventID: eventID}
	q := &s.deliveries
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued == nil {
		q.queued = map[receiptKey]*receipt{}
	}
	q.queued[receiptKey{vendor, entity, externalID}] = r
	q.pending = append(q.pending, r)
	q.filterAdd(r)
	err := q.failed
	q.failed = nil
	switch {
	case !q.writing:
		q.writing = true
		q.hurry = make(chan struct{})
		go s.lingerThenCommit(q.hurry)
	case len(q.pending) >= maxReceiptsPerCommit:
		q.cutLinger()
	}
	return err
}

// lingerThenCommit waits receiptLinger, or until hurry is closed, and then
// commits the queue. The caller has set q.writing.
func (s *Store) lingerThenCommit(hurry <-chan struct{}) {
	t := time.NewTimer(receiptLinger)
	select {
	case <-t.C:
	case <-hurry:
		t.Stop()
	}
	s.commitQueue(context.Background())
}

// cutLinger ends the wait of a commit run that has not committed yet; q.mu
// is held.
func (q *deliveryQueue) cutLinger() {
	if q.hurry != nil {
		close(q.hurry)
		q.hurry = nil
	}
}

// filterAdd puts a receipt about to be queued in the filter; q.mu is held.
func (q *deliveryQueue) filterAdd(r *receipt) {
	if q.filter != nil {
		q.filter.add(r.vendor, r.entity, r.externalID)
	}
}

// lookup returns the content hash of a record's receipt that is queued and
// not yet committed (queued true), or says that the record has no receipt
// at all (none true: the Store claimed the receipts, and its filter does
// not hold the record). Otherwise the receipt, if any, is in the file.
func (q *deliveryQueue) lookup(vendor, entity, externalID string) (contentHash string, queued, none bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r, ok := q.queued[receiptKey{vendor, entity, externalID}]; ok {
		return r.contentHash, true, false
	}
	return "", false, q.filterReady && !q.filter.mayHold(vendor, entity, externalID)
}

// drain waits until every queued receipt is committed.
func (q *deliveryQueue) drain() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cutLinger()
	for q.writing {
		q.wait()
	}
}

// wait waits for the running commit to end; q.mu is held.
func (q *deliveryQueue) wait() {
	if q.idle == nil {
		q.idle = sync.NewCond(&q.mu)
	}
	q.idle.Wait()
}

// commitQueue writes what is queued, a group per transaction, until the
// queue is empty. The caller has set q.writing.
func (s *Store) commitQueue(ctx context.Context) {
	q := &s.deliveries
	q.mu.Lock()
	q.hurry = nil // the run has begun; nothing lingers any more
	for len(q.pending) > 0 {
		n := min(len(q.pending), maxReceiptsPerCommit)
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		q.mu.Unlock()
		err := s.writeReceipts(ctx, batch)
		q.mu.Lock()
		for _, b := range batch {
			if b.done != nil {
				b.done <- err
				continue
			}
			k := receiptKey{b.vendor, b.entity, b.externalID}
			if q.queued[k] == b {
				delete(q.queued, k)
			}
			if err != nil {
				q.failed = err
			}
		}
	}
	q.pending, q.writing = nil, false
	if q.idle != nil {
		q.idle.Broadcast()
	}
	q.mu.Unlock()
}

func (s *Store) writeReceipts(ctx context.Context, batch []*receipt) error {
	err := s.Update(ctx, func(tx *Tx) error {
		// Groups of receiptRows rows share one statement, the rest go one
		// by one: two statement texts in all, which the driver keeps
		// prepared. A record received twice keeps its later receipt, as
		// rows are applied in order.
		args := make([]any, 0, 5*len(batch))
		for _, r := range batch {
			space, err := tx.space(ctx, r.vendor, r.entity, "")
			if err != nil {
				return err
			}
			args = append(args, space, r.externalID, compact.ID(r.contentHash),
				compact.Prefixed(eventIDPrefix(r.vendor, r.entity), r.eventID), tx.nowNs)
		}
		for len(args) > 0 {
			n := 1
			if len(args) >= 5*receiptRows {
				n = receiptRows
			}
			if _, err := tx.exec(ctx, receiptInsert(n), args[:5*n]...); err != nil {
				return err
			}
			args = args[5*n:]
		}
		return nil
	})
	return wrap("record delivery", err)
}

// receiptRows is how many receipts one statement writes.
const receiptRows = 16

var receiptInserts = [...]string{1: receiptInsertOf(1), receiptRows: receiptInsertOf(receiptRows)}

func receiptInsert(rows int) string { return receiptInserts[rows] }

func receiptInsertOf(rows int) string {
	return `INSERT INTO deliveries (space, external_id, content_hash, event_id, received_at) VALUES ` + rowsOf(rows, 5) + `
		ON CONFLICT (space, external_id) DO UPDATE SET content_hash = excluded.content_hash,
			event_id = excluded.event_id, received_at = excluded.received_at`
}

// eventIDPrefix is how the ids of a record's events start (see
// pipeline.Event): the receipts leave it out of the stored id.
func eventIDPrefix(vendor, entity string) string { return vendor + "-" + entity + "-" }
