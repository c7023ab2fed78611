package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline/bustest"
)

// TestBacklogAndLagOfAnotherProcess: an instance asked for a route it does
// not consume itself (its status beside the running one) finds the topic
// through the group's commits; the lag is the age of the oldest
// uncommitted event, not of the oldest event.
func TestBacklogAndLagOfAnotherProcess(t *testing.T) {
	for _, partitions := range []int{1, 3} {
		t.Run(fmt.Sprintf("partitions=%d", partitions), func(t *testing.T) {
			ctx := context.Background()
			brokers := fakeCluster(t)
			b := openBus(t, Config{Brokers: brokers, Partitions: partitions, Logger: quiet})
			defer b.Close()
			c, err := b.Consumer(ctx, "r", "crm.lead.leadexec")
			if err != nil {
				t.Fatal(err)
			}
			// Three rounds of four records, each record once: whatever
			// partition a record lands on, an earlier round comes first there.
			var rounds [][]string
			var roundStart []time.Time
			for r := range 3 {
				roundStart = append(roundStart, time.Now())
				var ids []string
				for i := range 4 {
					ev := bustest.Event(t, fmt.Sprintf("%d-%d", r, i), 1)
					if err := b.Publish(ctx, ev); err != nil {
						t.Fatal(err)
					}
					ids = append(ids, ev.ExternalID)
				}
				rounds = append(rounds, ids)
			}
			afterAll := time.Now()
			msgs := bustest.FetchN(t, c, 12)
			// Acknowledge the first round only (a prefix of every partition:
			// each record key is published once).
			first := map[string]bool{}
			for _, id := range rounds[0] {
				first[id] = true
			}
			for _, m := range msgs {
				if first[m.Event.ExternalID] {
					if err := m.Ack(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if ms, err := c.Fetch(ctx, 1, 20*time.Millisecond); err != nil || len(ms) != 0 { // commits
				t.Fatalf("fetch: %d, %v", len(ms), err)
			}

			other := openBus(t, Config{Brokers: brokers, Partitions: partitions, Logger: quiet})
			defer other.Close()
			if n, err := other.Backlog(ctx, "r"); err != nil || n != 8 {
				t.Fatalf("backlog = %d, %v; want 8", n, err)
			}
			asked := time.Now()
			lag, err := other.Lag(ctx, "r")
			if err != nil {
				t.Fatal(err)
			}
			// The oldest uncommitted event was published in round 1 or later
			// (on some partition it may be a round-2 event).
			if hi, lo := time.Since(roundStart[1]), asked.Sub(afterAll); lag > hi+time.Millisecond || lag < lo-time.Millisecond {
				t.Fatalf("lag %v, want within [%v, %v]", lag, lo, hi)
			}
			if _, err := other.Backlog(ctx, "never-consumed"); !errors.Is(err, ErrUnknownRoute) {
				t.Fatalf("backlog of an unknown route: %v, want ErrUnknownRoute", err)
			}
		})
	}
}
