package checkpoints

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/crmsync/crmsync/pipeline/statetest"
)

// Receipts written at once by many callers are each committed before their
// call returns, and a later receipt of the same record replaces an earlier
// one, as when they were written one transaction each.
func TestConcurrentDeliveryReceipts(t *testing.T) {
	s := openTest(t)
	const writers, each = 32, 40 // each record four times, in order
	// Each receipt is committed when its call returns.
	statetest.RecordReceiptsAtOnce(t, s, writers, each)
	statetest.CheckLastReceipts(t, s, writers, each)
}

// A caller whose context ends does not fail the receipts of the callers
// whose commit it was running.
func TestCancelledReceiptDoesNotFailOthers(t *testing.T) {
	s := openTest(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if i%2 == 0 {
				ctx = cancelled
			}
			err := s.RecordDelivery(ctx, "getlead", "lead", fmt.Sprint(i), "h", "ev")
			if i%2 == 1 && err != nil {
				t.Errorf("receipt %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for i := 1; i < 20; i += 2 {
		if got, err := s.Delivery(context.Background(), "getlead", "lead", fmt.Sprint(i)); err != nil || got != "h" {
			t.Fatalf("receipt %d: %q, %v", i, got, err)
		}
	}
}

// A queued receipt is found by Delivery as soon as QueueDelivery returns,
// before its commit, and the newest of a record's receipts wins. Close
// writes what is still queued: every receipt is there after a reopen.
func TestQueuedReceiptsAreFoundAtOnceAndWrittenByClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openAt(t, path)
	const writers, each = 16, 200
	statetest.QueueReceiptsAtOnce(t, s, writers, each)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	defer s.Close()
	statetest.CheckLastReceipts(t, s, writers, each)
}

// A queued receipt that cannot be committed is reported by the next call,
// and Delivery no longer claims it.
func TestQueuedReceiptFailureIsReported(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	// A receipt's table gone: every commit of receipts fails.
	if _, err := s.db.ExecContext(ctx, `DROP TABLE deliveries`); err != nil {
		t.Fatal(err)
	}
	if err := s.QueueDelivery(ctx, "leadexec", "lead", "1", "h1", "ev"); err != nil {
		t.Fatalf("first queued receipt: %v", err)
	}
	s.deliveries.drain()
	if _, queued, _ := s.deliveries.lookup("leadexec", "lead", "1"); queued {
		t.Fatal("a receipt that could not be committed is still claimed as queued")
	}
	if err := s.QueueDelivery(ctx, "leadexec", "lead", "2", "h2", "ev"); err == nil {
		t.Fatal("the failure of the earlier queued receipt was not reported")
	}
}
