package sharpspring

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	for _, random := range []bool{false, true} {
		t.Run(fmt.Sprintf("random order %v", random), func(t *testing.T) {
			e := newEnv(t, sharpspringsim.Options{RandomOrder: random})
			bulk := t0.Add(-10 * time.Minute).Truncate(time.Second)
			for i := range 1200 {
				e.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("bulk%d@example.com", i)}, sharpspringsim.SeedTimestamps(bulk, bulk.Add(300*time.Millisecond)))
			}
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
