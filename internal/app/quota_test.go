package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// offsetClock is real time moved by an offset the test sets: the
// simulator's day can end while everything else keeps the real clock.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// toNextUTCDay moves the clock to one second past its next UTC midnight.
func (c *offsetClock) toNextUTCDay() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now().Add(c.offset)
	c.offset += pipeline.NextUTCMidnight(now).Sub(now) + time.Second
}

// SharpSpring's own daily limit (106) has an undocumented reset time: the
// route pauses for quota_probe_interval, probes with one request, pauses
// again while the answer is still 106, and writes everything pending, once,
// as soon as the vendor's day has turned. crmsync's own daily count (which
// resets at UTC midnight by the real clock, hours away) plays no part.
func TestVendorQuota106PausesAndProbesUntilTheLimitLifts(t *testing.T) {
	const probe = 300 * time.Millisecond
	clock := &offsetClock{}
	// Each start-up spends one getFields: two are spent before the instance
	// below runs, which leaves two requests of the vendor's day for leads.
	h := newHarness(t, harnessOptions{linger: 20 * time.Millisecond,
		sim: sharpspringsim.Options{DailyLimit: 4, Now: clock.Now}})
	h.cfg.SharpSpring.QuotaProbeInterval = config.Duration(probe)
	h.app.close()
	h.open()
	h.start()
	ctx := context.Background()

	for i := 0; i < 2; i++ {
		h.deliver(int64(i), leadFields(i))
		h.waitFor("lead written", func() bool { return len(h.sim.Leads()) == i+1 })
	}
	// The next write is answered 106.
	h.deliver(2, leadFields(2))
	h.waitFor("a 106 from SharpSpring", func() bool { return h.sim.Stats().Rejected106 >= 1 })
	h.waitFor("a log line about the vendor's limit", func() bool {
		return strings.Contains(h.logs.String(), "SharpSpring reported its daily method call limit reached (error 106)")
	})
	logs := h.logs.String()
	for _, want := range []string{"reset time is not documented", "probe_at=", "one request probes"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the pause is not explained (%q missing):\n%s", want, tail(logs))
		}
	}
	for i := 3; i < 5; i++ {
		h.deliver(int64(i), leadFields(i))
	}

	// While the vendor's day lasts: probes, one request each, no faster
	// than one per interval; nothing written, nothing dead-lettered.
	start, before := time.Now(), h.sim.Stats()
	h.waitFor("three more probes", func() bool { return h.sim.Stats().Rejected106 >= before.Rejected106+3 })
	elapsed, after := time.Since(start), h.sim.Stats()
	requests := after.Requests - before.Requests
	if limit := int(elapsed/probe) + 2; requests > limit {
		t.Fatalf("%d requests in %s while paused; want at most %d (one probe per %s)", requests, elapsed, limit, probe)
	}
	if probes := after.Rejected106 - before.Rejected106; requests != probes {
		t.Fatalf("%d requests while paused but %d probes answered 106: each probe must be one request", requests, probes)
	}
	// Three probes are two pauses apart at least (less the time a pause
	// takes to be computed).
	if elapsed < 2*probe-100*time.Millisecond {
		t.Fatalf("3 probes in %s: the route does not pause %s between probes", elapsed, probe)
	}
	if n := len(h.sim.Leads()); n != 2 {
		t.Fatalf("%d leads written past the vendor's limit", n)
	}
	if dl, _ := h.app.State.CountDeadLetters(ctx, ""); dl != 0 {
		t.Fatalf("the vendor's limit dead-lettered %d", dl)
	}
	if strings.Contains(h.logs.String(), "dead-lettered") {
		t.Fatalf("dead letters logged:\n%s", tail(h.logs.String()))
	}

	// The vendor's day turns: the next probe succeeds and everything
	// pending is written.
	clock.toNextUTCDay()
	h.waitFor("pending leads written", func() bool { return len(h.sim.Leads()) == 5 })
	h.settle(5)
	if n := h.assertOneLeadPerEmail(); n != 5 {
		t.Fatalf("%d distinct leads, want 5", n)
	}
	for i := 0; i < 5; i++ {
		if got := h.lead(fmt.Sprintf("lead%d@example.com", i))["firstName"]; got != fmt.Sprintf("First%d", i) {
			t.Fatalf("lead %d firstName = %q", i, got)
		}
	}

	st := h.sim.Stats()
	if st.ObjectsWritten != 5 || st.ByMethod["updateLeadsV2"]+st.ByMethod["updateLeads"] != 0 {
		t.Fatalf("each lead must be written once: %d objects written, methods %v", st.ObjectsWritten, st.ByMethod)
	}
	if dl, _ := h.app.State.CountDeadLetters(ctx, ""); dl != 0 {
		t.Fatalf("%d dead letters", dl)
	}
}

// An instance started while SharpSpring's daily limit is spent starts all
// the same (its routes pause and probe) and writes once the limit lifts.
func TestVendorQuota106AtStartUpDoesNotStopStartUp(t *testing.T) {
	clock := &offsetClock{}
	// The harness's first instance spends the vendor's only request of the
	// day on getFields; the instance below is answered 106 at start-up.
	h := newHarness(t, harnessOptions{linger: 20 * time.Millisecond,
		sim: sharpspringsim.Options{DailyLimit: 1, Now: clock.Now}})
	h.cfg.SharpSpring.QuotaProbeInterval = config.Duration(300 * time.Millisecond)
	h.app.close()
	h.open()
	if !strings.Contains(h.logs.String(), "the catalog's system names are not checked at start-up") {
		t.Fatalf("start-up under a spent limit is not explained:\n%s", tail(h.logs.String()))
	}
	h.start()
	h.deliver(0, leadFields(0))
	h.waitFor("a probe answered 106", func() bool { return h.sim.Stats().Rejected106 >= 2 })
	if n := len(h.sim.Leads()); n != 0 {
		t.Fatalf("%d leads written past the vendor's limit", n)
	}
	clock.toNextUTCDay()
	h.waitFor("the lead written", func() bool { return len(h.sim.Leads()) == 1 })
	h.settle(1)
	if dl, _ := h.app.State.CountDeadLetters(context.Background(), ""); dl != 0 {
		t.Fatalf("%d dead letters", dl)
	}
}
