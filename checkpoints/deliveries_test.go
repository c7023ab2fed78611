package checkpoints

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// Receipts written at once by many callers are each committed before their
// call returns, and a later receipt of the same record replaces an earlier
// one, as when they were written one transaction each.
func TestConcurrentDeliveryReceipts(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	const writers, each = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := fmt.Sprintf("w%d-%d", w, i%10) // each record four times, in order
				if err := s.RecordDelivery(ctx, "leadexec", "lead", id, fmt.Sprintf("h%d", i), "ev"); err != nil {
					errs <- err
					return
				}
				// Committed when the call returns.
				if got, err := s.Delivery(ctx, "leadexec", "lead", id); err != nil || got != fmt.Sprintf("h%d", i) {
					errs <- fmt.Errorf("%s right after recording h%d: %q, %v", id, i, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := 0; w < writers; w++ {
		for i := 0; i < 10; i++ {
			id := fmt.Sprintf("w%d-%d", w, i)
			if got, _ := s.Delivery(ctx, "leadexec", "lead", id); got != fmt.Sprintf("h%d", 30+i) {
				t.Fatalf("%s = %q, want the last receipt h%d", id, got, 30+i)
			}
		}
	}
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
