package natskv_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/checkpoints/natskv"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/statetest"
)

func TestStoreConformsToPipelineState(t *testing.T) {
	statetest.Run(t, func(t *testing.T) pipeline.State {
		return testenv.NATSState(t, testenv.JetStream(t, testenv.NATS(t)))
	})
}

// Two instances, each with its own connection to one cluster, share one
// rate window: no sliding second admits more than the limit across them.
func TestTwoInstancesShareOneRateWindow(t *testing.T) {
	url := testenv.NATS(t)
	a, b := testenv.NATSState(t, testenv.JetStream(t, url)), testenv.NATSState(t, testenv.JetStream(t, url))
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	if n := statetest.TakeSlotsAtOnce(t, []pipeline.RateWindow{a, b, a, b}, "sharpspring:1001", now, 10, 10); n != 10 {
		t.Fatalf("%d of 40 requests from two instances admitted in one instant, want exactly 10", n)
	}
}

// Two instances resolving the same new records at once agree on every
// canonical id: a key is linked once, by whichever instance was first.
func TestTwoInstancesResolveTheSameRecordToOneID(t *testing.T) {
	url := testenv.NATS(t)
	a, b := testenv.NATSState(t, testenv.JetStream(t, url)), testenv.NATSState(t, testenv.JetStream(t, url))
	ctx := context.Background()
	const n = 50
	lists := func(first string) [][]pipeline.Key {
		var out [][]pipeline.Key
		for i := range n {
			email := pipeline.Key{Vendor: "sharpspring", Entity: "lead", Kind: pipeline.KindEmail, Value: fmt.Sprintf("l%d@example.com", i)}
			own := pipeline.Key{Vendor: first, Entity: "lead", Kind: pipeline.KindID, Value: fmt.Sprint(i)}
			out = append(out, []pipeline.Key{own, email})
		}
		return out
	}
	var ids [2][]string
	var wg sync.WaitGroup
	for i, s := range []*natskv.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.ResolveAll(ctx, lists([]string{"leadexec", "ivvy"}[i]))
			if err != nil {
				t.Error(err)
			}
			ids[i] = got
		}()
	}
	wg.Wait()
	for i := range n {
		if ids[0][i] != ids[1][i] {
			t.Errorf("record %d: instance A resolved %s, instance B %s", i, ids[0][i], ids[1][i])
		}
	}
}

// A queued receipt is found by Delivery as soon as QueueDelivery returns,
// the newest of a record's receipts wins, and Close puts what is still
// queued: another instance on the bucket finds every newest receipt.
func TestQueuedReceiptsAreFoundAtOnceAndPutByClose(t *testing.T) {
	url := testenv.NATS(t)
	a, b := testenv.NATSState(t, testenv.JetStream(t, url)), testenv.NATSState(t, testenv.JetStream(t, url))
	const writers, each = 8, 40
	statetest.QueueReceiptsAtOnce(t, a, writers, each)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	statetest.CheckLastReceipts(t, b, writers, each)
}
