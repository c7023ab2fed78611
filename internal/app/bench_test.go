package app

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// BenchmarkWebhookToSharpSpring measures leads per second from LeadExec's
// delivery (HTTP form posts, 16 at a time) through JetStream and the route
// into SharpSpring, with the simulator's rate limit off: the pipeline's own
// ceiling on this machine.
//
//	go test -run '^$' -bench WebhookToSharpSpring -benchtime 3x ./internal/app/
func BenchmarkWebhookToSharpSpring(b *testing.B) {
	const perRun = 5000
	h := newHarness(b, harnessOptions{linger: 50 * time.Millisecond, rate: 10, infoLogs: true,
		sim: sharpspringsim.Options{RateLimitPerSecond: -1, DailyLimit: -1}})
	// The client's own 10/s budget would cap this run at 5,000 leads/s;
	// lift it to measure the pipeline.
	setUnlimited(h)
	h.start()
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	for i := 0; i < b.N; i++ {
		base := next.Add(perRun) - perRun
		var wg sync.WaitGroup
		work := make(chan int64)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for uid := range work {
					h.deliver(uid, leadFields(int(uid)))
				}
			}()
		}
		for j := int64(0); j < perRun; j++ {
			work <- base + j
		}
		close(work)
		wg.Wait()
		want := base + perRun
		h.waitFor("leads in SharpSpring", func() bool { return h.app.Runners[0].Stats.Upserts.Load() >= want })
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if n := len(h.sim.Leads()); n != perRun*b.N {
		b.Fatalf("SharpSpring holds %d leads, want %d", n, perRun*b.N)
	}
	b.ReportMetric(float64(perRun*b.N)/elapsed.Seconds(), "leads/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSharpSpringSinkLimited drains a backlog of new leads into a
// SharpSpring simulator that enforces 10 requests/second, and reports the
// rate as a fraction of SharpSpring's ceiling of 5,000 leads/second
// (10 requests × 500 leads).
//
//	go test -run '^$' -bench SharpSpringSinkLimited -benchtime 1x ./internal/app/
func BenchmarkSharpSpringSinkLimited(b *testing.B) {
	for _, rate := range []float64{9, 10} {
		b.Run(fmt.Sprintf("rate=%g", rate), func(b *testing.B) {
			const backlog = 20000
			var total time.Duration
			var rejected int
			for i := 0; i < b.N; i++ {
				h := newHarness(b, harnessOptions{linger: 100 * time.Millisecond, rate: rate, infoLogs: true})
				for j := 0; j < backlog; j++ {
					h.publish(int64(j), time.Now(), leadFields(j))
				}
				h.sim.ResetStats()
				start := time.Now()
				h.start()
				h.waitFor("backlog drained", func() bool { return h.app.Runners[0].Stats.Upserts.Load() >= backlog })
				total += time.Since(start)
				if n := len(h.sim.Leads()); n != backlog {
					b.Fatalf("SharpSpring holds %d leads, want %d", n, backlog)
				}
				rejected += h.sim.Stats().Rejected107
				h.stop()
			}
			perSec := float64(backlog*b.N) / total.Seconds()
			b.ReportMetric(perSec, "leads/s")
			b.ReportMetric(perSec/5000, "of_ceiling")
			b.ReportMetric(float64(rejected), "107s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// setUnlimited reopens the instance with no client-side request rate (the
// daily quota still counts).
func setUnlimited(h *harness) {
	h.t.Helper()
	h.app.close()
	h.cfg.SharpSpring.Unlimited = true
	h.cfg.SharpSpring.DailyQuota = 1 << 30
	h.open()
}
