package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// TestBackfillSharpSpringLeads: `crmsync backfill --source sharpspring.lead`
// publishes every SharpSpring lead as a backfill event, counting its
// requests against the account's daily quota.
func TestBackfillSharpSpringLeads(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	created := time.Now().UTC().Add(-30 * 24 * time.Hour)
	want := map[string]bool{}
	for i := range 40 {
		at := created.Add(time.Duration(i) * 7 * time.Hour)
		id := h.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("bf%d@example.com", i)}, sharpspringsim.SeedTimestamps(at, at))
		want[strconv.FormatInt(id, 10)] = true
	}
	backfillPublishesOnBudget(t, h, "sharpspring.lead", want)
	if _, err := h.app.BackfillPager("kafka.lead", time.Time{}, time.Time{}); err == nil {
		t.Fatal("a source without a pager was accepted")
	}
}

// TestBackfillSharpSpringClients: `crmsync backfill --source
// sharpspring.client` publishes every agency client once, on the account's
// budget, and refuses a range (clients carry no time to select by). A
// source whose config is missing says what to set.
func TestBackfillSharpSpringClients(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	want := map[string]bool{}
	for i := range 12 {
		want[strconv.FormatInt(h.sim.SeedClient("", map[string]string{"companyName": fmt.Sprintf("Agency %d", i)}), 10)] = true
	}
	if _, err := h.app.BackfillPager("sharpspring.client", time.Now().Add(-time.Hour), time.Time{}); err == nil ||
		!strings.Contains(err.Error(), "--since/--until cannot be used") {
		t.Fatalf("a client backfill with --since: %v", err)
	}
	backfillPublishesOnBudget(t, h, "sharpspring.client", want)
	if _, err := h.app.BackfillPager("getlead.lead", time.Time{}, time.Time{}); err == nil || !strings.Contains(err.Error(), "section is missing") {
		t.Errorf("getlead.lead without its config section: %v", err)
	}
	if _, err := h.app.BackfillPager("leadexec.lead", time.Time{}, time.Time{}); err == nil || !strings.Contains(err.Error(), "lead_types") {
		t.Errorf("leadexec.lead without lead types: %v", err)
	}
}

// backfillPublishesOnBudget backfills source in full and checks that its
// backfill subject holds every record of want once, as a backfill event,
// and that every request the simulator saw was counted against the
// account's daily quota.
func backfillPublishesOnBudget(t *testing.T, h *harness, source string, want map[string]bool) {
	t.Helper()
	ctx := context.Background()
	pager, err := h.app.BackfillPager(source, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	bf := &pipeline.Backfill{Source: source, Pager: pager, Publisher: h.app.Bus, State: h.app.State}
	p, err := bf.Run(ctx)
	if err != nil || !p.Done || p.Published != int64(len(want)) || p.Total != int64(len(want)) {
		t.Fatalf("backfill: %+v, %v", p, err)
	}
	vendor, entity, _ := strings.Cut(source, ".")
	cons, err := h.app.Bus.Consumer(ctx, "test", pipeline.BackfillSubject(entity, vendor))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for len(got) < len(want) {
		ms, err := cons.Fetch(ctx, len(want)-len(got), 5*time.Second)
		if err != nil || len(ms) == 0 {
			t.Fatalf("backfill subject holds %d of %d records (%v)", len(got), len(want), err)
		}
		for _, m := range ms {
			if !want[m.Event.ExternalID] || got[m.Event.ExternalID] || m.Event.Origin != pipeline.OriginBackfill {
				t.Fatalf("unexpected event %+v", m.Event)
			}
			got[m.Event.ExternalID] = true
			m.Ack()
		}
	}
	used, err := h.app.State.QuotaUsed(ctx, "sharpspring:"+testAccount, time.Now())
	if err != nil || used != h.sim.Stats().Requests {
		t.Fatalf("quota counted %d requests, the simulator saw %d (%v)", used, h.sim.Stats().Requests, err)
	}
}

// TestBackfillLeavesTheLiveReserve: a SharpSpring backfill stops with a
// quota error when only the live reserve of the daily quota is left.
func TestBackfillLeavesTheLiveReserve(t *testing.T) {
	h := newHarness(t, harnessOptions{tweak: func(c *config.Config) {
		c.SharpSpring.DailyQuota = 100 // a reserve of 10
	}})
	ctx := context.Background()
	for i := range 5 {
		h.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("bf%d@example.com", i)})
	}
	account := "sharpspring:" + testAccount
	used, err := h.app.State.QuotaUsed(ctx, account, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.app.State.AddQuota(ctx, account, time.Now(), 89-used); err != nil {
		t.Fatal(err)
	}
	pager, err := h.app.BackfillPager("sharpspring.lead", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	bf := &pipeline.Backfill{Source: "sharpspring.lead", Pager: pager, Publisher: h.app.Bus, State: h.app.State}
	_, err = bf.Run(ctx)
	if _, ok := pipeline.IsQuota(err); !ok {
		t.Fatalf("backfill: %v, want a quota error", err)
	}
	if used, _ := h.app.State.QuotaUsed(ctx, account, time.Now()); used != 90 {
		t.Fatalf("%d requests used, want 90: the backfill spent the live reserve", used)
	}
}

// TestStatusReportsBackfillBacklog: backfill events waiting for a route are
// reported apart from its live backlog, in /status and /metrics, and drain
// once the route runs.
func TestStatusReportsBackfillBacklog(t *testing.T) {
	buses(t, func(t *testing.T, bus string) {
		h := newHarness(t, harnessOptions{bus: bus, linger: 50 * time.Millisecond})
		ctx := context.Background()
		// The route's backfill consumer, as a running route opens it.
		if _, err := h.app.Bus.Consumer(ctx, pipeline.BackfillConsumer("le-ss"), pipeline.BackfillSubject("lead", "leadexec")); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			ev := pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: fmt.Sprint(i), Fields: leadFields(i),
				ChangedAt: time.Now().UTC(), Origin: pipeline.OriginBackfill}
			if err := ev.Seal(); err != nil {
				t.Fatal(err)
			}
			if err := h.app.Bus.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		h.waitFor("backfill backlog 5", func() bool {
			st, err := h.app.Status(ctx)
			return err == nil && len(st.Routes) == 1 && st.Routes[0].BackfillBacklog == 5 && st.Routes[0].Backlog == 0
		})
		rec := httptest.NewRecorder()
		h.app.metricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if got := metric(t, rec.Body.String(), "crmsync_route_backfill_backlog", `route="le-ss"`); got != 5 {
			t.Fatalf("backfill backlog metric = %v, want 5", got)
		}

		h.start()
		h.waitFor("backfill written", func() bool {
			var st Status
			if err := jsonGet("http://"+h.app.Addr()+"/status", &st); err != nil || len(st.Routes) != 1 {
				return false
			}
			return st.Routes[0].BackfillBacklog == 0 && len(h.sim.Leads()) == 5
		})
		m := get(t, "http://"+h.app.Addr()+"/metrics")
		if got := metric(t, m, "crmsync_route_backfill_backlog", `route="le-ss"`); got != 0 {
			t.Fatalf("backfill backlog metric = %v after the route ran, want 0", got)
		}
	})
}

// jsonGet decodes the JSON answer of a GET into v.
func jsonGet(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
