package checkpoints

import (
	"context"
	"errors"
	"fmt"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/crmsync/crmsync/internal/filelock"
)

// ErrReceiptsClaimed means another open Store, in this process or another,
// holds the claim on the state file's delivery receipts (ClaimReceipts).
var ErrReceiptsClaimed = errors.New("the state file's delivery receipts are claimed by another crmsync instance")

// ClaimReceipts makes this Store the only writer of delivery receipts to
// its file until it is closed, and from then on answers Delivery for a
// record that was never received from memory, without a read of the
// database: the common case of a webhook delivery, a new lead, then costs
// no SQLite on the request's path.
//
// The claim is an exclusive lock on the file "<state file>-lock". Only a
// running instance writes receipts (its webhooks and pollers), and one
// instance at a time may run on a SQLite state: an instance that cannot
// claim the receipts (ErrReceiptsClaimed) must not start. Commands that
// read or write the state beside a running instance (backfill, replay,
// dead-letter retries, status) write no receipts and do not claim them.
//
// The Store then holds every record that has a receipt in a Bloom filter:
// those stored before the claim (read from the file here, about a second
// per million receipts) and every one it takes after. A record the filter
// does not hold has no receipt; one it holds (or one of the 1% of others it
// mistakes for one) is looked up in the file as before.
func (s *Store) ClaimReceipts(ctx context.Context) error {
	if s.path == "" {
		return errors.New("state: claim receipts: the store has no file")
	}
	lock, ok, err := filelock.TryLock(s.path + "-lock")
	if err != nil {
		return fmt.Errorf("state: claim receipts: %w", err)
	}
	if !ok {
		return ErrReceiptsClaimed
	}
	if err := s.fillReceiptFilter(ctx); err != nil {
		lock.Close()
		return fmt.Errorf("state: claim receipts: %w", err)
	}
	s.claim = lock
	return nil
}

// fillReceiptFilter gives the delivery queue a filter that holds every
// stored receipt and every receipt taken from now on.
func (s *Store) fillReceiptFilter(ctx context.Context) error {
	var stored uint
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM deliveries`).Scan(&stored); err != nil {
		return err
	}
	// The filter is in place, not yet used, before the file is read: a
	// receipt taken meanwhile is added by the queue, one stored before the
	// read is found by it.
	q := &s.deliveries
	f := newReceiptFilter(stored)
	q.mu.Lock()
	for _, r := range q.pending {
		f.add(r.vendor, r.entity, r.externalID)
	}
	q.filter, q.filterReady = f, false
	q.mu.Unlock()
	if err := s.readReceipts(ctx, f); err != nil {
		q.mu.Lock()
		q.filter = nil
		q.mu.Unlock()
		return err
	}
	q.mu.Lock()
	q.filterReady = true
	q.mu.Unlock()
	return nil
}

// readReceipts adds every stored receipt to f, which the delivery queue
// shares.
func (s *Store) readReceipts(ctx context.Context, f *receiptFilter) error {
	rows, err := s.rdb.QueryContext(ctx, `SELECT k.vendor, k.entity, d.external_id
		FROM deliveries d JOIN key_spaces k ON k.id = d.space`)
	if err != nil {
		return err
	}
	defer rows.Close()
	q := &s.deliveries
	for rows.Next() {
		var vendor, entity, id string
		if err := rows.Scan(&vendor, &entity, &id); err != nil {
			return err
		}
		q.mu.Lock()
		f.add(vendor, entity, id)
		q.mu.Unlock()
	}
	return rows.Err()
}

// receiptFilter is a Bloom filter of the records that have a delivery
// receipt (vendor, entity, external id). It grows as a chain of filters,
// each made for twice the receipts of the one before with half its rate of
// false positives, so that the chain's rate stays below twice
// receiptFalsePositive however many receipts it holds.
type receiptFilter struct {
	sets []*bloom.BloomFilter
	n    uint    // receipts the last set is made for
	fp   float64 // its rate of false positives
	left uint    // receipts it takes before the next set is made
}

const (
	// receiptFalsePositive is the share of records never received that
	// the filter mistakes for received ones (and looks up in the file).
	receiptFalsePositive = 0.01
	// receiptFilterMin is the fewest receipts the first set is made for
	// (about 77 KiB); the first set is made for twice the stored receipts.
	receiptFilterMin = 1 << 16
)

func newReceiptFilter(stored uint) *receiptFilter {
	f := &receiptFilter{}
	f.grow(max(2*stored, receiptFilterMin), receiptFalsePositive)
	return f
}

func (f *receiptFilter) grow(n uint, fp float64) {
	f.sets = append(f.sets, bloom.NewWithEstimates(n, fp))
	f.n, f.fp, f.left = n, fp, n
}

// add records that a record has a receipt.
func (f *receiptFilter) add(vendor, entity, externalID string) {
	var buf [128]byte
	k := receiptFilterKey(buf[:0], vendor, entity, externalID)
	if f.holds(k) {
		return
	}
	if f.left == 0 {
		f.grow(2*f.n, f.fp/2)
	}
	f.sets[len(f.sets)-1].Add(k)
	f.left--
}

// mayHold reports whether a record may have a receipt; false means it has
// none.
func (f *receiptFilter) mayHold(vendor, entity, externalID string) bool {
	var buf [128]byte
	return f.holds(receiptFilterKey(buf[:0], vendor, entity, externalID))
}

func (f *receiptFilter) holds(k []byte) bool {
	for _, s := range f.sets {
		if s.Test(k) {
			return true
		}
	}
	return false
}

// receiptFilterKey appends a record's key in the filter to b: the three
// names, each ended by a NUL byte. Vendor and entity names hold none, so
// no two records share a key (were they to, the filter would only look one
// up in the file for nothing).
func receiptFilterKey(b []byte, vendor, entity, externalID string) []byte {
	b = append(b, vendor...)
	b = append(b, 0)
	b = append(b, entity...)
	b = append(b, 0)
	b = append(b, externalID...)
	return append(b, 0)
}
