package bustest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// Throughput measures events per second through b: publishers goroutines
// publish b.N distinct events (each Publish waits for the bus to store the
// event, as sources do) while one route consumer fetches batches of up to
// 500 and acknowledges every message. The clock runs from the first
// publish to the last ack; the figure is reported as "events/s".
func Throughput(tb *testing.B, b Bus, publishers int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	evs := make([]pipeline.Event, tb.N)
	for i := range evs {
		evs[i] = Event(tb, fmt.Sprintf("bench-%d", i), 1)
	}
	c, err := b.Consumer(ctx, "bench", subject)
	if err != nil {
		tb.Fatal(err)
	}
	tb.ResetTimer()
	start := time.Now()

	var acked atomic.Int64
	done := make(chan error, 1)
	go func() {
		for acked.Load() < int64(tb.N) {
			ms, err := c.Fetch(ctx, 500, 20*time.Millisecond)
			if err != nil {
				done <- err
				return
			}
			for _, m := range ms {
				if err := m.Ack(); err != nil {
					done <- err
					return
				}
			}
			acked.Add(int64(len(ms)))
		}
		// One more Fetch commits the last acknowledgements (Kafka).
		_, _ = c.Fetch(ctx, 1, 10*time.Millisecond)
		done <- nil
	}()

	var next atomic.Int64
	var wg sync.WaitGroup
	for range publishers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(tb.N) {
					return
				}
				if err := b.Publish(ctx, evs[i]); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	elapsed := time.Since(start)
	tb.StopTimer()
	tb.ReportMetric(float64(tb.N)/elapsed.Seconds(), "events/s")
}
