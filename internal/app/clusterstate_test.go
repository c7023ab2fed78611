package app

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// Two instances on one NATS cluster with state.kind nats share the identity
// map and SharpSpring's rate window: leads delivered to both webhooks reach
// SharpSpring once each, and no sliding second carries more than the
// configured rate.
func TestTwoInstancesOnClusterStateShareIdentityAndRateWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two instances end to end")
	}
	natsURL := testenv.NATS(t)

	h := newHarness(t, harnessOptions{rate: 5, batchSize: 2, linger: 20 * time.Millisecond})
	h.app.Close()
	// Count only the two instances' requests (the harness's first instance
	// checked the catalog with state of its own).
	h.sim.ResetStats()
	h.cfg.Bus.NATS.URL = natsURL
	h.cfg.State = config.StateConfig{Kind: "nats"}
	validConfig(t, h.cfg)
	h.open()
	h.start()

	// The second instance: same config, its own data dir and listener.
	cfg2 := *h.cfg
	cfg2.DataDir = t.TempDir()
	a2, err := New(context.Background(), &cfg2, newTestLogger(h.logs))
	if err != nil {
		t.Fatal(err)
	}
	stopSecond := testenv.Go(t, "second instance", a2.Run)
	second := &harness{t: t, app: a2, logs: h.logs}
	second.waitFor("second instance ready", func() bool {
		resp, err := http.Get("http://" + a2.Addr() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	const n = 40
	for i := range n {
		target := h
		if i%2 == 1 {
			target = second
		}
		// Each lead is delivered to both instances, as a retried delivery
		// landing on the other machine would be.
		fields := map[string]string{"Email": fmt.Sprintf("c%d@example.com", i), "FirstName": fmt.Sprint("Lead ", i)}
		target.deliver(int64(9000+i), fields)
		other := second
		if target == second {
			other = h
		}
		other.deliver(int64(9000+i), fields)
	}
	h.waitFor(fmt.Sprintf("%d leads in SharpSpring", n), func() bool { return len(h.sim.Leads()) >= n })
	// Both instances' routes are idle.
	h.waitFor("routes idle", func() bool {
		for _, a := range []*App{h.app, a2} {
			b, _, err := a.Backlog(context.Background(), "le-ss")
			if err != nil || b != 0 {
				return false
			}
		}
		return true
	})
	if got := h.assertOneLeadPerEmail(); got != n {
		t.Errorf("%d distinct leads in SharpSpring, want %d", got, n)
	}
	st := h.sim.Stats()
	var at []time.Time
	for _, r := range h.sim.RequestLog() {
		at = append(at, r.Time)
	}
	if peak := maxInSecond(at); peak > 5 {
		t.Errorf("SharpSpring saw %d requests in one sliding second from two instances, limit 5", peak)
	}
	if st.Rejected107 > 0 {
		t.Errorf("SharpSpring answered 107 %d times", st.Rejected107)
	}
	// Each source (here the catalog's field watch) runs on one instance.
	for i, s := range h.app.Sources {
		l1, ok1 := s.(*pipeline.Leased)
		l2, ok2 := a2.Sources[i].(*pipeline.Leased)
		if !ok1 || !ok2 {
			t.Fatalf("source %s is not leased", s.Name())
		}
		h.waitFor("one holder of "+s.Name(), func() bool { return l1.Held() != l2.Held() })
	}
	// One identity map: both instances resolve a lead to the same record.
	k := pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: "9001"}
	id1, err1 := h.app.State.Lookup(context.Background(), k)
	id2, err2 := a2.State.Lookup(context.Background(), k)
	if err1 != nil || err2 != nil || id1 != id2 {
		t.Errorf("instances disagree on lead 9001: %q (%v) and %q (%v)", id1, err1, id2, err2)
	}

	// The route runs on one instance; /status shows the cluster's leases.
	held := func(a *App) bool { return a.routeLeases["le-ss"].Held() }
	h.waitFor("one instance running the route", func() bool { return held(h.app) != held(a2) })
	status, err := a2.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, l := range status.Leases {
		names[l.Name] = l.Holder
	}
	if names["route:le-ss"] == "" || names["source:sharpspring.fields"] == "" || status.Instance == "" {
		t.Errorf("status leases %v, instance %q", status.Leases, status.Instance)
	}

	// The instance running the route stops: the other takes the route over
	// (the lease is released on stop) and writes what is delivered to it.
	survivor, survivorHarness := a2, second
	if held(a2) {
		survivor, survivorHarness = h.app, h
		stopSecond()
	} else {
		h.stop()
	}
	survivorHarness.waitFor("the route taken over", func() bool { return held(survivor) })
	for i := range 5 {
		survivorHarness.deliver(int64(9500+i), map[string]string{"Email": fmt.Sprintf("late%d@example.com", i), "FirstName": "Late"})
	}
	h.waitFor("leads delivered after the failover in SharpSpring", func() bool { return len(h.sim.Leads()) >= n+5 })
	if got := h.assertOneLeadPerEmail(); got != n+5 {
		t.Errorf("%d distinct leads in SharpSpring, want %d", got, n+5)
	}
}

func TestStateKindNatsNeedsTheNatsBus(t *testing.T) {
	c := &config.Config{
		Bus:      config.BusConfig{Kind: "kafka", Kafka: config.KafkaConfig{Brokers: []string{"localhost:9092"}}},
		State:    config.StateConfig{Kind: "nats"},
		LeadExec: &config.LeadExecConfig{Webhook: config.WebhookConfig{BasicUser: "u", BasicPassword: "p"}},
		Kafka:    &config.KafkaTargetConfig{},
		Routes:   []config.RouteConfig{{From: "leadexec.lead", To: "kafka.lead"}},
	}
	c.ApplyDefaults()
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "state.kind: nats keeps the state on the bus's NATS cluster; it needs bus.kind nats") {
		t.Fatalf("err = %v", err)
	}
}

// maxInSecond is the most times in any sliding second.
func maxInSecond(ts []time.Time) int {
	slices.SortFunc(ts, time.Time.Compare)
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= time.Second {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// An instance with state of its own refuses to join a cluster where another
// instance runs, and says what to set.
func TestSecondInstanceWithLocalStateRefusesASharedBus(t *testing.T) {
	natsURL := testenv.NATS(t)
	h := newHarness(t, harnessOptions{})
	h.app.Close()
	h.cfg.Bus.NATS.URL = natsURL
	h.open()
	h.start()

	cfg2 := *h.cfg
	cfg2.DataDir = t.TempDir()
	a2, err := New(context.Background(), &cfg2, nil2())
	if err == nil {
		a2.Close()
		t.Fatal("a second instance with its own SQLite state joined the cluster")
	}
	for _, want := range []string{"another crmsync instance", "state.kind sqlite", "Set state.kind: nats"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Once the first instance stops, its place is free at once.
	h.stop()
	a3, err := New(context.Background(), &cfg2, nil2())
	if err != nil {
		t.Fatalf("after the first instance stopped: %v", err)
	}
	a3.Close()
}
