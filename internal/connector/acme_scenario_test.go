package connector_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/connector"
	"github.com/crmsync/crmsync/internal/scenario"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"

	// Acme CRM registers itself: nothing else in crmsync knows it.
	_ "github.com/crmsync/crmsync/internal/connector/testdata/acme"
)

// TestAVendorAddedByAConnectorRunsInTheScenario runs the end-to-end
// scenario (the demo's eight routes, LeadExec's deliveries, edits, retries
// and the dropped delivery) with the test-only Acme connector registered:
// the scenario starts Acme's simulator, routes SharpSpring's leads to it
// (LeadExec's and those made in SharpSpring), and its verdict requires every
// lead there once with its values, as in every other target.
func TestAVendorAddedByAConnectorRunsInTheScenario(t *testing.T) {
	if _, ok := connector.Lookup("acme"); !ok {
		t.Fatal("the acme connector is not registered")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	w, err := scenario.New(t.TempDir(), scenario.Options{Leads: 60, Seed: 11, NoLimit: true, Say: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	sim, ok := w.Connected["acme"]
	if !ok {
		t.Fatalf("the scenario did not start Acme's simulator (connected: %v)", w.Connected)
	}
	routed := false
	for _, r := range w.Config.Routes {
		routed = routed || (r.From == "sharpspring.lead" && r.To == "acme.lead")
	}
	if !routed {
		t.Fatalf("no route sharpspring.lead → acme.lead in %+v", w.Config.Routes)
	}
	// The rendered configuration carries the section, secrets as ${ENV}.
	yml, env, err := w.ChildConfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sim.Secrets() {
		if strings.Contains(string(yml), s) {
			t.Fatalf("a secret of Acme's section is in the rendered config:\n%s", yml)
		}
	}
	if len(env) == 0 {
		t.Fatal("no environment for the rendered config")
	}

	logs := &testenv.Log{}
	a, err := app.New(ctx, w.Config, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.Go(t, "run", a.Run)
	defer stop()
	gate := pipeline.NewBudget(pipeline.BudgetConfig{Account: w.Config.SharpSpring.Account(), Shared: true}, a.State)
	res, err := w.Play(ctx, scenario.InProcess{App: a}, sharpspring.Gate(gate))
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, logs.String())
	}
	if !res.OK() {
		t.Fatalf("scenario: %+v\nlog:\n%s", res, logs.String())
	}
	// The verdict above counted every lead missing from Acme as lost; this
	// only guards against a scenario that checked no Acme lead.
	if len(sim.Leads()) == 0 {
		t.Fatal("Acme holds no lead")
	}
	t.Logf("scenario with Acme: %+v; Acme holds %d leads", res, len(sim.Leads()))
}
