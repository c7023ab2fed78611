package connector_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/connector/testdata/acme"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// TestAcmeRunsInTheApplication runs a crmsync instance whose configuration
// names Acme like any other vendor: a lead LeadExec delivers reaches Acme
// through the acme.lead sink, Acme's poller finds it there and the
// acme.lead → sharpspring.lead route writes it to SharpSpring. Nothing of
// the application knows Acme but through the connector registry.
func TestAcmeRunsInTheApplication(t *testing.T) {
	sim, _, acmeURL := newAcme(t)
	ss := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1001": "ss-secret"}})
	ssSrv := httptest.NewServer(ss)
	t.Cleanup(ssSrv.Close)
	const user, pass = "leadexec", "hook-password"
	cfg := &config.Config{
		DataDir: t.TempDir(),
		HTTP:    config.HTTPConfig{Listen: "127.0.0.1:0"},
		SharpSpring: &config.SharpSpringConfig{Endpoint: ssSrv.URL + "/pubapi/v1.2/", AccountID: "1001", SecretKey: "ss-secret",
			RatePerSecond: 9},
		LeadExec: &config.LeadExecConfig{Webhook: config.WebhookConfig{BasicUser: user, BasicPassword: pass}},
		Sections: map[string]config.Section{"acme": &acme.Section{Endpoint: acmeURL, APIKey: "acme_test_key", RatePerSecond: 50,
			Poller: config.PollerConfig{Interval: config.Duration(time.Second)}}},
		Routes: []config.RouteConfig{
			{Name: "leadexec-to-acme", From: "leadexec.lead", To: "acme.lead", Linger: config.Duration(10 * time.Millisecond)},
			{Name: "acme-to-sharpspring", From: "acme.lead", To: "sharpspring.lead", Linger: config.Duration(10 * time.Millisecond)},
		},
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Log{}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.Go(t, "run", a.Run)
	t.Cleanup(func() {
		stop()
		if strings.Contains(logs.String(), "acme_test_key") {
			t.Error("the Acme key is in the logs")
		}
	})

	form := url.Values{"LeadUID": {"501"}, "FirstName": {"Ada"}, "LastName": {"Byron"}, "Email": {"ada@example.com"}}
	testenv.Eventually(t, "the webhook to take the delivery", func() bool {
		req, _ := http.NewRequest(http.MethodPost, "http://"+a.Addr()+"/webhooks/leadexec", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	testenv.Eventually(t, "Acme to hold the lead", func() bool {
		for _, l := range sim.Leads() {
			if l.Fields[acme.FieldEmail] == "ada@example.com" {
				return l.Fields[acme.FieldGivenName] == "Ada" && l.Fields[acme.FieldFamilyName] == "Byron"
			}
		}
		return false
	})
	testenv.Eventually(t, "SharpSpring to hold the lead Acme's poller found", func() bool {
		l, ok := ss.LeadByEmail("ada@example.com")
		return ok && l.Fields["firstName"] != nil && *l.Fields["firstName"] == "Ada"
	})
	if sim.Len() != 1 {
		t.Fatalf("Acme holds %d leads, want 1", sim.Len())
	}

	// /status counts Acme's requests and shows its poller's cursor.
	st, err := a.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]int64{}
	for _, v := range st.Vendors {
		if v.Vendor == "acme" && v.Method != "" {
			methods[v.Method] = v.Count
		}
	}
	if methods["leads.batch"] < 1 || methods["leads.list"] < 1 {
		t.Errorf("/status counts Acme's requests as %v", methods)
	}
	polled := false
	for _, s := range st.Sources {
		polled = polled || (s.Name == "acme.lead" && s.Cursor != "")
	}
	if !polled {
		t.Errorf("/status sources %+v: acme.lead without a cursor", st.Sources)
	}
	// The route to Acme can be replayed and verified: its sink reads back.
	readable := false
	for _, ru := range a.Runners {
		readable = readable || (ru.Name() == "leadexec-to-acme" && ru.CanRead())
	}
	if !readable {
		t.Error("the route to Acme cannot read its target back")
	}
	// `crmsync backfill --source acme.lead` pages through Acme's history.
	if !slices.Contains(app.BackfillSources(), "acme.lead") {
		t.Errorf("backfill sources %v", app.BackfillSources())
	}
	pager, err := a.BackfillPager("acme.lead", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if evs, next, err := pager.Page(context.Background(), ""); err != nil || len(evs) != 1 || next != "" {
		t.Fatalf("backfill page: %d events, next %q, %v", len(evs), next, err)
	}
}
