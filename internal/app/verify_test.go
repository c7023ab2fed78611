package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// Drift made behind crmsync's back in a target (a field edited, a record
// deleted, with no poller to report either) is reported by Verify, record
// by record and field by field, and repaired by the route's
// reconciliation, which the drift metrics count.
func TestDriftInATargetIsReportedByVerifyAndRepairedByReconciliation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ss, ssURL := serveSharpSpring(t)
	iv, ivURL := serveIVvy(t, ivvysim.Options{})
	const n = 30
	for i := range n {
		cid := iv.SeedContact(ivvysim.Contact{FirstName: fmt.Sprint("First", i), LastName: fmt.Sprint("Last", i), Email: fmt.Sprintf("d%d@example.com", i)})
		iv.SeedLead(ivvysim.Lead{Name: fmt.Sprint("Lead ", i), SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
	}
	cfg := &config.Config{
		DataDir:     t.TempDir(),
		HTTP:        config.HTTPConfig{Listen: "127.0.0.1:0"},
		SharpSpring: sharpSpringConfig(ssURL, 0),
		IVvy: &config.IVvyConfig{Endpoint: ivURL, APIKey: ivvysim.DefaultKey, APISecret: ivvysim.DefaultSecret, RatePerSecond: 50,
			Poller: config.PollerConfig{Interval: config.Duration(time.Second)}},
		Routes: []config.RouteConfig{{Name: "iv-ss", From: "ivvy.lead", To: "sharpspring.lead", Linger: config.Duration(50 * time.Millisecond),
			Reconcile: config.ReconcileConfig{Interval: config.Duration(time.Second), Grace: config.Duration(200 * time.Millisecond)}}},
	}
	logs := &testenv.Log{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(tail(logs.String()))
		}
	})
	a, stop := runApp(t, cfg, logs)
	defer stop()
	testenv.Eventually(t, "every iVvy lead in SharpSpring", func() bool { return len(ss.Leads()) == n })
	testenv.Eventually(t, "a reconciliation pass that finds nothing", func() bool {
		st, err := a.Status(ctx)
		return err == nil && st.Routes[0].Drift != nil && st.Routes[0].Drift.Passes > 0
	})
	if st, _ := a.Status(ctx); st.Routes[0].Drift.Fields+st.Routes[0].Drift.Missing != 0 {
		t.Fatalf("reconciliation found drift in a target in step: %+v", st.Routes[0].Drift)
	}

	// Behind crmsync's back: a name edited, a lead deleted.
	c, err := sharpspring.New(sharpspring.Config{Endpoint: cfg.SharpSpring.Endpoint, AccountID: testAccount, SecretKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	edited, _ := ss.LeadByEmail("d3@example.com")
	deleted, _ := ss.LeadByEmail("d7@example.com")
	if _, err := c.UpdateLeadsV2(ctx, []map[string]any{{"id": edited.ID, "firstName": "Behind"}}); err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := c.Call(ctx, "deleteLeads", map[string]any{"objects": []map[string]any{{"id": deleted.ID}}}, &res); err != nil {
		t.Fatal(err)
	}

	// verify, offline beside the running instance, reports exactly that.
	off, err := NewOffline(ctx, cfg, nil2())
	if err != nil {
		t.Fatal(err)
	}
	d, err := off.Verify(ctx, VerifyOptions{Route: "iv-ss"})
	off.Close()
	if err != nil {
		t.Fatal(err)
	}
	if d.Records != n || len(d.Diffs) != 2 || d.Missing() != 1 {
		t.Fatalf("verify compared %d records, %d differ (%d missing): %+v; want %d compared, 2 differ, 1 missing", d.Records, len(d.Diffs), d.Missing(), d.Diffs, n)
	}
	for _, x := range d.Diffs {
		if !x.Missing && (len(x.Fields) != 1 || x.Fields["firstName"] != [2]string{"Behind", "First3"}) {
			t.Errorf("verify's diff of the edited lead = %+v; want firstName target Behind, source First3", x.Fields)
		}
	}

	// Reconciliation repairs both, and the metrics count them.
	testenv.Eventually(t, "reconciliation to repair the edit and the deletion", func() bool {
		l, ok := ss.LeadByEmail("d3@example.com")
		back, ok2 := ss.LeadByEmail("d7@example.com")
		return ok && ok2 && l.Fields["firstName"] != nil && *l.Fields["firstName"] == "First3" && back.Fields["firstName"] != nil
	})
	metric := func(name string) float64 {
		resp, err := http.Get("http://" + a.AdminAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(string(b))
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	testenv.Eventually(t, "the drift metrics to count the repair", func() bool {
		return metric(`crmsync_drift_records_total{reason="fields",route="iv-ss"}`) >= 1 &&
			metric(`crmsync_drift_records_total{reason="missing",route="iv-ss"}`) >= 1 &&
			metric(`crmsync_drift_repaired_total{route="iv-ss"}`) >= 2
	})
	if !strings.Contains(logs.String(), "reconciliation found records that differ from their source") {
		t.Error("no log line says reconciliation found drift")
	}
	if got := len(ss.Leads()); got != n {
		t.Errorf("SharpSpring holds %d leads after the repair, want %d", got, n)
	}
}
