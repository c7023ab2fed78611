package natskv

import (
	"context"
	"sync"
	"time"
)

// receiptQueue puts delivery receipts behind the webhook's answer (see
// pipeline.QueuedReceipts): a put is acknowledged by the bucket's replicas,
// a round trip or more on a cluster, and LeadExec's answer needs the event
// on the bus, not its receipt. A record's receipts are put one after the
// other, the newest last; Delivery finds a queued receipt at once.
type receiptQueue struct {
	mu      sync.Mutex
	entries map[string]*queuedReceipt
	putting int        // keys with a put running
	idle    *sync.Cond // signalled when putting falls to 0
	failed  error      // the last put that failed, for the next QueueDelivery
}

type queuedReceipt struct {
	r       receipt
	pending bool // r is not yet put (or newer than the put running)
}

// receiptPutTimeout bounds one queued put.
const receiptPutTimeout = 30 * time.Second

// QueueDelivery implements pipeline.QueuedReceipts: RecordDelivery without
// the wait. It returns the error of an earlier queued receipt that could
// not be put, if any.
func (s *Store) QueueDelivery(_ context.Context, vendor, entity, externalID, contentHash, eventID string) error {
	k := key("receipt", vendor, entity, externalID)
	q := &s.receipts
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.entries == nil {
		q.entries = map[string]*queuedReceipt{}
	}
	err := q.failed
	q.failed = nil
	e, running := q.entries[k]
	if !running {
		e = &queuedReceipt{}
		q.entries[k] = e
		q.putting++
		go s.putQueued(k, e)
	}
	e.r, e.pending = receipt{Hash: contentHash, Event: eventID, At: s.stamp()}, true
	return err
}

// putQueued puts a key's newest queued receipt until none is pending.
func (s *Store) putQueued(k string, e *queuedReceipt) {
	q := &s.receipts
	q.mu.Lock()
	for e.pending {
		r := e.r
		e.pending = false
		q.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), receiptPutTimeout)
		err := s.put(ctx, k, r)
		cancel()
		q.mu.Lock()
		if err != nil {
			q.failed = wrap("record delivery", err)
		}
	}
	delete(q.entries, k)
	if q.putting--; q.putting == 0 && q.idle != nil {
		q.idle.Broadcast()
	}
	q.mu.Unlock()
}

// queued returns the content hash of a record's receipt not yet put.
func (q *receiptQueue) queued(k string) (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[k]
	if !ok {
		return "", false
	}
	return e.r.Hash, true
}

// drain waits until every queued receipt is put (or failed).
func (q *receiptQueue) drain() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.putting > 0 {
		if q.idle == nil {
			q.idle = sync.NewCond(&q.mu)
		}
		q.idle.Wait()
	}
}
