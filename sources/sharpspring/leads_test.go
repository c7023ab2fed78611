package sharpspring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// change is one lead state a poller must publish.
type change struct{ id, version string }

// snapshot is the current state of every active lead: what a caught-up
// poller must have published.
func snapshot(sim *sharpspringsim.Server) map[change]bool {
	out := map[change]bool{}
	for _, l := range sim.Leads() {
		if l.Active {
			out[change{strconv.FormatInt(l.ID, 10), l.UpdateTimestamp.UTC().Format(sharpspring.TimeLayout)}] = true
		}
	}
	return out
}

// checkExactlyOnce fails unless the stream holds exactly one event per
// expected change and nothing else.
func checkExactlyOnce(t *testing.T, evs []pipeline.Event, want map[change]bool) {
	t.Helper()
	got := map[change]int{}
	for _, ev := range evs {
		got[change{ev.ExternalID, ev.Version}]++
	}
	for c := range want {
		if got[c] != 1 {
			t.Errorf("lead %s version %s published %d times, want once", c.id, c.version, got[c])
		}
	}
	for c, n := range got {
		if !want[c] {
			t.Errorf("unexpected event: lead %s version %s (%d times)", c.id, c.version, n)
		}
	}
}

func seedSpread(e *env, n int, from time.Time, step time.Duration) {
	for i := range n {
		at := from.Add(time.Duration(i) * step)
		var opts []sharpspringsim.SeedOption
		opts = append(opts, sharpspringsim.SeedTimestamps(at, at))
		if i%3 == 0 {
			opts = append(opts, sharpspringsim.SeedUIEntered())
		}
		e.sim.SeedLead(map[string]string{
			"emailAddress": fmt.Sprintf("lead%d@example.com", i), "firstName": "Lead", "lastName": strconv.Itoa(i),
			"companyName": "Acme & Sons",
		}, opts...)
	}
}

// seedBulk seeds n leads created at the same second, at, and last updated
// at updated, and returns their ids.
func seedBulk(e *env, n int, at, updated time.Time) []int64 {
	ids := make([]int64, 0, n)
	for i := range n {
		ids = append(ids, e.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("bulk%d@example.com", i)}, sharpspringsim.SeedTimestamps(at, updated)))
	}
	return ids
}

// pollUntilCaughtUp polls until a window reaches now − lag.
func pollUntilCaughtUp(t *testing.T, p *LeadPoller) {
	t.Helper()
	for range 100 {
		res, err := p.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.CaughtUp {
			return
		}
	}
	t.Fatal("poller never caught up")
}

func TestPollerStoppedAtAnyPointPublishesEveryChangeOnce(t *testing.T) {
	cases := []struct {
		name   string
		random bool
		after  int // publishes before the crash; 40 = all, before the cursor is saved
	}{
		{"after first publish", false, 1},
		{"mid window", false, 17},
		{"before last publish", false, 39},
		{"after all publishes before cursor save", false, 40},
		{"mid window random order", true, 23},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sharpspringsim.Options{RandomOrder: tc.random})
			seedSpread(e, 40, t0.Add(-50*time.Minute), time.Minute)
			cfg := LeadPollerConfig{Since: t0.Add(-time.Hour), SweepInterval: -1}
			want := snapshot(e.sim)

			ctx, cancel := context.WithCancel(context.Background())
			_, err := e.poller(cfg, &sourcetest.CrashAfter{Inner: e.bus, After: tc.after, Cancel: cancel}).Poll(ctx)
			cancel()
			if err == nil {
				t.Fatal("the crashed poll reported success")
			}
			if _, _, err := e.store.Cursor(context.Background(), DefaultLeadSource); !errors.Is(err, pipeline.ErrNotFound) {
				t.Fatalf("cursor saved by a window that did not finish: %v", err)
			}
			pollUntilCaughtUp(t, e.poller(cfg, nil)) // the restart

			// More changes, another crash in the middle, another restart.
			e.clock.Add(2 * time.Minute)
			api := e.client("v1.2")
			ids := e.sim.Leads()
			for i, l := range ids[:5] {
				obj := map[string]any{"id": strconv.FormatInt(l.ID, 10), "city": "Town " + strconv.Itoa(i)}
				if res, err := api.UpdateLeadsV2(context.Background(), []map[string]any{obj}); err != nil || !res[0].Success {
					t.Fatalf("update: %v %+v", err, res)
				}
			}
			e.clock.Add(10 * time.Second)
			if res, err := api.UpdateLeadsV2(context.Background(), []map[string]any{{"id": strconv.FormatInt(ids[0].ID, 10), "city": "Again"}}); err != nil || !res[0].Success {
				t.Fatalf("update: %v", err)
			}
			if res, err := api.CreateLeads(context.Background(), []map[string]any{{"emailAddress": "new1@example.com"}, {"emailAddress": "new2@example.com"}}); err != nil || !res[1].Success {
				t.Fatalf("create: %v", err)
			}
			for c := range snapshot(e.sim) {
				want[c] = true
			}
			e.clock.Add(2 * time.Minute)
			ctx, cancel = context.WithCancel(context.Background())
			_, err = e.poller(cfg, &sourcetest.CrashAfter{Inner: e.bus, After: 2, Cancel: cancel}).Poll(ctx)
			cancel()
			if err == nil {
				t.Fatal("the second crashed poll reported success")
			}
			pollUntilCaughtUp(t, e.poller(cfg, nil))
			// Polling again later re-reads the overlap and publishes nothing.
			e.clock.Add(time.Minute)
			pollUntilCaughtUp(t, e.poller(cfg, nil))

			checkExactlyOnce(t, e.events("lead"), want)
		})
	}
}

func TestPollerReadsMoreThanAPageInOneSecond(t *testing.T) {
	testenv.SkipUnderRace(t)
	for _, random := range []bool{false, true} {
		t.Run(fmt.Sprintf("random order %v", random), func(t *testing.T) {
			e := newEnv(t, sharpspringsim.Options{RandomOrder: random})
			bulk := t0.Add(-10 * time.Minute).Truncate(time.Second)
			seedBulk(e, 1200, bulk, bulk.Add(300*time.Millisecond))
			seedSpread(e, 30, t0.Add(-20*time.Minute), 30*time.Second)
			rec := &sourcetest.Recorder{}
			p := e.poller(LeadPollerConfig{Since: t0.Add(-time.Hour), SweepInterval: -1}, rec)
			pollUntilCaughtUp(t, p)
			checkExactlyOnce(t, rec.Events(), snapshot(e.sim))
			if n := requests(e.sim, "getLeadsDateRange"); n > 40 {
				t.Errorf("%d requests for 1,230 leads", n)
			}
		})
	}
}

func TestPollerSplitsFullWindows(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{RandomOrder: true})
	seedSpread(e, 1700, t0.Add(-50*time.Minute), time.Second)
	rec := &sourcetest.Recorder{}
	p := e.poller(LeadPollerConfig{Since: t0.Add(-time.Hour), SweepInterval: -1, PageSize: 200}, rec)
	pollUntilCaughtUp(t, p)
	checkExactlyOnce(t, rec.Events(), snapshot(e.sim))
}

func TestPollerUnescapesUIEnteredValues(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	at := t0.Add(-5 * time.Minute)
	id := e.sim.SeedLead(map[string]string{"emailAddress": "ann@example.com", "companyName": `Acme & "Sons"`, "lastName": "O'Neil"},
		sharpspringsim.SeedUIEntered(), sharpspringsim.SeedTimestamps(at, at))
	if l := e.sim.Leads()[0]; *l.Fields["companyName"] == `Acme & "Sons"` {
		t.Fatal("the simulator did not encode the UI-entered value; the test proves nothing")
	}
	rec := &sourcetest.Recorder{}
	p := e.poller(LeadPollerConfig{Since: t0.Add(-time.Hour), SweepInterval: -1}, rec)
	pollUntilCaughtUp(t, p)
	evs := rec.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	if ev.ExternalID != strconv.FormatInt(id, 10) || ev.Fields["companyName"] != `Acme & "Sons"` || ev.Fields["lastName"] != "O'Neil" {
		t.Fatalf("event %+v", ev)
	}
	if ev.Vendor != "sharpspring" || ev.Entity != "lead" || !ev.ChangedAt.Equal(at.Truncate(time.Second)) || ev.Version != at.Format(sharpspring.TimeLayout) {
		t.Fatalf("envelope %+v", ev)
	}
	if _, ok := ev.Fields["updateTimestamp"]; ok {
		t.Fatal("updateTimestamp travels in the fields; it is read-only and zone-dependent")
	}
}

func TestPollerV1AndV12SelectTheSameLeads(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	e := newEnv(t, sharpspringsim.Options{CompanyTimeZone: ny})
	// Leads on both sides of every window edge.
	seedSpread(e, 200, t0.Add(-3*time.Hour), 53*time.Second)
	run := func(version string, zone *time.Location) []pipeline.Event {
		rec := &sourcetest.Recorder{}
		p, err := NewLeadPoller(LeadPollerConfig{
			Name: "sharpspring.lead." + version, Zone: zone, Since: t0.Add(-2 * time.Hour), SweepInterval: -1,
			MaxWindow: 17 * time.Minute, Now: e.clock.Now,
		}, e.client(version), rec, e.store)
		if err != nil {
			t.Fatal(err)
		}
		pollUntilCaughtUp(t, p)
		return rec.Events()
	}
	v12, v1 := run("v1.2", time.UTC), run("v1", ny)
	if len(v12) == 0 || len(v12) == 200 {
		t.Fatalf("%d events: the window should select some leads, not all", len(v12))
	}
	ids := map[string]bool{}
	for _, ev := range v12 {
		ids[ev.ID] = true
	}
	if len(v1) != len(v12) {
		t.Fatalf("v1 published %d events, v1.2 %d", len(v1), len(v12))
	}
	for _, ev := range v1 {
		if !ids[ev.ID] {
			t.Fatalf("v1 published %s (lead %s, %s) that v1.2 did not", ev.ID, ev.ExternalID, ev.Version)
		}
	}
}

func TestSweepFindsDeactivatedAndDeletedLeads(t *testing.T) {
	for _, random := range []bool{false, true} {
		t.Run(fmt.Sprintf("random order %v", random), func(t *testing.T) {
			e := newEnv(t, sharpspringsim.Options{RandomOrder: random})
			seedSpread(e, 1100, t0.Add(-50*time.Minute), time.Second)
			rec := &sourcetest.Recorder{Inner: e.bus}
			cfg := LeadPollerConfig{Since: t0.Add(-time.Hour)}
			p := e.poller(cfg, rec)
			// With a random order, offset paging lists only part of the leads.
			if res, err := p.Sweep(context.Background()); err != nil || (res.Listed != 1100 && !random) || res.Deactivated+res.Deleted != 0 {
				t.Fatalf("first sweep %+v %v", res, err)
			}
			pollUntilCaughtUp(t, p)
			leads := e.sim.Leads()
			api := e.client("v1.2")
			ctx := context.Background()

			// A lead created after the sweep and deactivated before the next.
			e.clock.Add(time.Minute)
			created, err := api.CreateLeads(ctx, []map[string]any{{"emailAddress": "late@example.com"}})
			if err != nil || !created[0].Success {
				t.Fatal(err)
			}
			e.clock.Add(2 * time.Minute)
			pollUntilCaughtUp(t, p)
			e.clock.Add(time.Minute)
			deactivate := []map[string]any{{"id": strconv.FormatInt(leads[7].ID, 10), "active": "0"}, {"id": strconv.FormatInt(created[0].ID, 10), "active": "0"}}
			if res, err := api.UpdateLeadsV2(ctx, deactivate); err != nil || !res[0].Success || !res[1].Success {
				t.Fatalf("deactivate: %v %+v", err, res)
			}
			if err := api.Call(ctx, "deleteLeads", map[string]any{"objects": []map[string]any{{"id": strconv.FormatInt(leads[9].ID, 10)}}}, nil); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(2 * time.Minute)
			before := len(rec.Events())
			pollUntilCaughtUp(t, p)
			if n := len(rec.Events()) - before; n != 0 {
				t.Fatalf("the date range showed %d events for deactivated/deleted leads", n)
			}

			res, err := p.Sweep(ctx)
			if err != nil || res.Deactivated != 2 || res.Deleted != 1 {
				t.Fatalf("sweep %+v %v", res, err)
			}
			got := map[string]pipeline.Event{}
			for _, ev := range rec.Events()[before:] {
				got[ev.ExternalID] = ev
			}
			for _, id := range []int64{leads[7].ID, created[0].ID} {
				ev := got[strconv.FormatInt(id, 10)]
				if ev.Op != pipeline.OpUpsert || ev.Fields["active"] != "0" || ev.Fields["emailAddress"] == "" {
					t.Errorf("deactivation of %d: %+v", id, ev)
				}
			}
			if ev := got[strconv.FormatInt(leads[9].ID, 10)]; ev.Op != pipeline.OpDelete || ev.Version != DeletedVersion {
				t.Errorf("deletion: %+v", ev)
			}
			// A second sweep finds nothing new.
			res, err = p.Sweep(ctx)
			if err != nil || res.Deactivated+res.Deleted != 0 {
				t.Fatalf("second sweep %+v %v", res, err)
			}
		})
	}
}

func TestPollerRunStopsWithItsContext(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	seedSpread(e, 3, t0.Add(-5*time.Minute), time.Second)
	rec := &sourcetest.Recorder{}
	p := e.poller(LeadPollerConfig{Since: t0.Add(-time.Hour), Interval: 10 * time.Millisecond}, rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// Stats count a window once its cursor is saved.
	testenv.Eventually(t, "Run to publish", func() bool { return p.Stats().Published >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Sweeps != 1 || st.Published != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestKnownIDsRoundTrip(t *testing.T) {
	set := map[int64]bool{88038560770: true, 88038560771: true, 88038599999: true, 718897186818: true}
	got, err := decodeIDs(encodeIDs(set))
	if err != nil || len(got) != len(set) {
		t.Fatalf("%v %v", got, err)
	}
	for id := range set {
		if !got[id] {
			t.Fatalf("lost %d", id)
		}
	}
	if _, err := decodeIDs("!!"); err == nil {
		t.Fatal("corrupt set accepted")
	}
}

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

// Another integration spends half of the account's 10 requests a second
// (5 lead updates a second through the same account, on the real clock),
// so the poller's own 9 a second meet 107 answers all the time. The
// poller still advances: its cursor passes the seeded hour and every lead
// change, seeded or made by the other client, is published within a
// bounded time. Before, a window needing a few dozen requests was thrown
// away whole at its first 107 and started again, and the watermark never
// moved.
func TestLeadPollerAdvancesWhileAnotherClientSpendsTheRate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs on the real clock for several seconds")
	}
	ctx := context.Background()
	sim := sharpspringsim.New(sharpspringsim.Options{}) // 10 requests a second, 107 beyond
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	newClient := func(gate sharpspring.Gate) *sharpspring.Client {
		c, err := sharpspring.New(sharpspring.Config{Endpoint: srv.URL + "/pubapi/v1.2/",
			AccountID: sharpspringsim.DefaultAccountID, SecretKey: sharpspringsim.DefaultSecretKey, Gate: gate})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// An hour of history, dense enough that one window takes a few dozen
	// requests.
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	const seeded = 6000
	var ids []int64
	for i := range seeded {
		at := start.Add(time.Duration(i) * 55 * time.Minute / seeded)
		ids = append(ids, sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("c%d@example.com", i), "firstName": "Seeded"},
			sharpspringsim.SeedTimestamps(at, at)))
	}
	seedEnd := start.Add(55 * time.Minute)

	// The other integration: 5 lead updates a second, each a change the
	// poller must publish.
	otherCtx, stopOther := context.WithCancel(ctx)
	var otherWG sync.WaitGroup
	otherWG.Add(1)
	var otherSent, otherRefused int
	go func() {
		defer otherWG.Done()
		other := newClient(nil)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-otherCtx.Done():
				return
			case <-tick.C:
			}
			obj := map[string]any{"id": strconv.FormatInt(ids[(i*7919)%len(ids)], 10), "city": "Town " + strconv.Itoa(i)}
			otherSent++
			if _, err := other.UpdateLeadsV2(otherCtx, []map[string]any{obj}); err != nil {
				otherRefused++
			}
		}
	}()
	t.Cleanup(func() { stopOther(); otherWG.Wait() })

	rec := &sourcetest.Recorder{}
	store := testenv.State(t)
	gate := pipeline.NewBudget(pipeline.BudgetConfig{Account: "sharpspring:" + sharpspringsim.DefaultAccountID, PerSecond: 9}, nil)
	p, err := NewLeadPoller(LeadPollerConfig{Since: start, SweepInterval: -1, Interval: 100 * time.Millisecond,
		Overlap: 5 * time.Second, Lag: time.Second, Logger: slog.New(slog.DiscardHandler)}, newClient(gate), rec, store)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stopPoller := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	t.Cleanup(func() { stopPoller(); <-done })

	watermark := func() time.Time {
		s, _, err := store.Cursor(ctx, DefaultLeadSource)
		if err != nil {
			return time.Time{}
		}
		c, err := decodeLeadCursor(s)
		if err != nil || c.Watermark == "" {
			return time.Time{}
		}
		wm, _ := sharpspring.ParseTime(c.Watermark, time.UTC)
		return wm
	}
	published := func(want map[change]bool) bool {
		got := map[change]bool{}
		for _, ev := range rec.Events() {
			got[change{ev.ExternalID, ev.Version}] = true
		}
		for c := range want {
			if !got[c] {
				return false
			}
		}
		return true
	}
	seededStates := map[change]bool{}
	for _, id := range ids {
		seededStates[change{strconv.FormatInt(id, 10), ""}] = true
	}
	seededPublished := func() bool {
		got := map[string]bool{}
		for _, ev := range rec.Events() {
			got[ev.ExternalID] = true
		}
		for c := range seededStates {
			if !got[c.id] {
				return false
			}
		}
		return true
	}

	began := time.Now()
	testenv.Eventually(t, "the cursor to pass the seeded hour and every seeded lead to be published while the other client runs", func() bool {
		return !watermark().Before(seedEnd) && seededPublished()
	})
	advanced := time.Since(began)
	st := sim.Stats()
	if st.Rejected107 == 0 {
		t.Fatal("no 107 answer: the other client did not compete for the rate; the test proves nothing")
	}

	// The other client's changes so far are published too, while it keeps
	// changing leads.
	want := snapshot(sim)
	testenv.Eventually(t, "every lead change made so far to be published", func() bool { return published(want) })
	caughtUp := time.Since(began)
	stopOther()
	otherWG.Wait()
	final := sim.Stats()
	t.Logf("cursor past the seeded hour after %s, changes published after %s; %d requests (%d getLeadsDateRange), %d answered 107; other client: %d sent, %d refused",
		advanced.Round(time.Millisecond), caughtUp.Round(time.Millisecond), final.Requests, final.ByMethod["getLeadsDateRange"], final.Rejected107, otherSent, otherRefused)
}

// TestNoLagPollerMissesNothingOnARealClock: leads written while the poller
// polls with no lag, on the real clock, are all published.
func TestNoLagPollerMissesNothingOnARealClock(t *testing.T) {
	ctx := context.Background()
	sim := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": "k"}, RateLimitPerSecond: -1})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, _ := sharpspring.New(sharpspring.Config{Endpoint: srv.URL + "/pubapi/v1.2/", AccountID: "1", SecretKey: "k"})
	bus := testenv.Bus(t)
	store := testenv.State(t)
	p, err := NewLeadPoller(LeadPollerConfig{Interval: time.Second, Overlap: 2 * time.Second, Lag: -1, Since: time.Now().Add(-time.Minute)}, c, bus, store)
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	n := 0
	for b := 0; b < 12; b++ {
		var objs []map[string]any
		for i := 0; i < 25; i++ {
			objs = append(objs, map[string]any{"emailAddress": fmt.Sprintf("l%d@example.com", n), "firstName": "x"})
			n++
		}
		if _, err := c.CreateLeads(ctx, objs); err != nil {
			t.Fatal(err)
		}
		time.Sleep(230 * time.Millisecond)
	}
	cons, _ := bus.Consumer(ctx, "t", pipeline.Subject("lead", "sharpspring"))
	seen := map[string]bool{}
	defer func() { cancel(); <-done }()
	testenv.Eventually(t, "every lead on the bus", func() bool {
		ms, _ := cons.Fetch(ctx, 500, 200*time.Millisecond)
		for _, m := range ms {
			seen[m.Event.ExternalID] = true
			m.Ack()
		}
		return len(seen) >= n
	})
	cancel()
	if len(seen) != n {
		t.Fatalf("published %d of %d leads", len(seen), n)
	}
}
