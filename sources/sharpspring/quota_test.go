package sharpspring

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

const vendorQuotaLog = "SharpSpring reported its daily method call limit reached (error 106); its reset time is not documented"

// runUntil runs run until cond holds (or fails after 10s), then stops it.
func runUntil(t *testing.T, run func(context.Context) error, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	stopped := false
	defer func() {
		if !stopped { // Eventually failed the test: stop run before leaving
			cancel()
			<-done
		}
	}()
	testenv.Eventually(t, what, cond)
	stopped = true
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLeadPollerWaitsTheProbeIntervalAfterVendor106(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	vendor106 := &sharpspring.Error{Method: "getLeadsDateRange", Code: 106, Message: "Exceeded daily method call limit."}
	for _, tc := range []struct {
		name  string
		cfg   time.Duration
		want  time.Duration
		err   error
		exact bool
	}{
		{"configured", 45 * time.Minute, 45 * time.Minute, vendor106, true},
		{"default", 0, time.Hour, vendor106, true},
		{"wrapped", 10 * time.Minute, 10 * time.Minute, fmt.Errorf("sharpspring.lead: %w", vendor106), true},
		// crmsync's own daily count resets at 00:00 UTC: that wait stays.
		{"own budget", 10 * time.Minute, 2 * time.Hour, &pipeline.QuotaError{Account: "sharpspring:1001", ResetAt: time.Now().Add(2 * time.Hour)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.poller(LeadPollerConfig{QuotaProbeInterval: tc.cfg}, &sourcetest.Recorder{})
			got := p.retryWait(tc.err, 1)
			if tc.exact && got != tc.want || !tc.exact && (got > tc.want || got < tc.want-time.Minute) {
				t.Fatalf("retryWait = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestLeadPollerProbesAfterVendor106(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	seedSpread(e, 3, t0.Add(-5*time.Minute), time.Second)
	logs := &testenv.Log{}
	const probe = 200 * time.Millisecond
	p := e.poller(LeadPollerConfig{Since: t0.Add(-time.Hour), SweepInterval: -1, Interval: time.Hour,
		QuotaProbeInterval: probe, Logger: slog.New(slog.NewTextHandler(logs, nil))}, &sourcetest.Recorder{})
	e.sim.Script("getLeadsDateRange", sharpspringsim.Fault106)
	start := time.Now()
	runUntil(t, p.Run, "the window read after the probe", func() bool { return p.Stats().Published == 3 })
	if elapsed := time.Since(start); elapsed < probe {
		t.Fatalf("polled again %s after a 106, before the probe interval (%s)", elapsed, probe)
	}
	if n := requests(e.sim, "getLeadsDateRange"); n != 2 {
		t.Fatalf("%d getLeadsDateRange, want the refused one and the probe", n)
	}
	if !strings.Contains(logs.String(), vendorQuotaLog) || !strings.Contains(logs.String(), "probe_at=") {
		t.Fatalf("the pause is not explained:\n%s", logs)
	}
}

func TestClientPollerProbesAfterVendor106(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	e.sim.SeedClient("", map[string]string{"companyName": "Acme"})
	logs := &testenv.Log{}
	const probe = 300 * time.Millisecond
	rec := &sourcetest.Recorder{}
	// Interval is far shorter than the probe interval: after a 106 the
	// probe interval wins.
	p, err := NewClientPoller(ClientPollerConfig{Interval: 10 * time.Millisecond, QuotaProbeInterval: probe, Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}, e.client("v1.2"), rec, e.store)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.Script("getClients", sharpspringsim.Fault106)
	start := time.Now()
	runUntil(t, p.Run, "the snapshot after the probe", func() bool { return len(rec.Events()) == 1 })
	if elapsed := time.Since(start); elapsed < probe {
		t.Fatalf("polled again %s after a 106, before the probe interval (%s)", elapsed, probe)
	}
	if !strings.Contains(logs.String(), vendorQuotaLog) {
		t.Fatalf("the pause is not explained:\n%s", logs)
	}
}
