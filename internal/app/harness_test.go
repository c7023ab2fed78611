package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/kafkabus"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

const (
	testAccount = "1001"
	testSecret  = "sim-secret-DO-NOT-LOG-7f3a"
	hookUser    = "leadexec"
	hookPass    = "hook-password-DO-NOT-LOG"
)

type harness struct {
	t       testing.TB
	sim     *sharpspringsim.Server
	simSrv  *httptest.Server
	cfg     *config.Config
	logs    *testenv.Log
	app     *App
	stopRun func() // stops the running instance; nil when none runs
	// System names of the custom fields, by canonical name.
	sys      map[string]string
	infoLogs bool // see harnessOptions
}

// typedField is a SharpSpring custom field of a given type.
type typedField struct {
	name, label, dataType string
	options               []sharpspringsim.FieldOption
}

type harnessOptions struct {
	sim       sharpspringsim.Options
	batchSize int
	linger    time.Duration
	rate      float64
	bus       string // "nats" (default) or "kafka" (an in-process kfake cluster)
	ownership map[string]string
	// typed are custom fields created in SharpSpring, with their type,
	// besides favorite_color and budget (text); their LeadExec name is the
	// label without spaces.
	typed []typedField
	// tweak changes the config before defaults and validation.
	tweak func(*config.Config)
	// infoLogs logs at info, as `crmsync run` does by default, instead of
	// debug: benchmarks measure the pipeline, not debug formatting.
	infoLogs bool
}

// newHarness starts the SharpSpring simulator over real HTTP and prepares a
// crmsync instance (embedded NATS, SQLite in a temp dir) that is not yet
// running; call start.
func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	if o.sim.Accounts == nil {
		o.sim.Accounts = map[string]string{testAccount: testSecret}
	}
	sim := sharpspringsim.New(o.sim)
	srv := httptest.NewServer(sim)
	h := &harness{t: t, sim: sim, simSrv: srv, logs: &testenv.Log{}, sys: map[string]string{}, infoLogs: o.infoLogs}
	var catalog []mappings.CatalogField
	fields := append([]typedField{{"favorite_color", "Favorite Color", "text", nil}, {"budget", "Budget", "text", nil}}, o.typed...)
	for _, f := range fields {
		h.sys[f.name] = sim.CreateField("lead", f.label, f.dataType, f.options...)
		catalog = append(catalog, mappings.CatalogField{Name: f.name, Label: f.label, SharpSpring: h.sys[f.name],
			LeadExec: strings.ReplaceAll(f.label, " ", "")})
	}
	if o.rate == 0 {
		o.rate = 9
	}
	h.cfg = &config.Config{
		DataDir:     t.TempDir(),
		Log:         config.LogConfig{Level: "debug"},
		HTTP:        config.HTTPConfig{Listen: "127.0.0.1:0"},
		SharpSpring: sharpSpringConfig(srv.URL, o.rate),
		LeadExec:    &config.LeadExecConfig{Webhook: config.WebhookConfig{BasicUser: hookUser, BasicPassword: hookPass}},
		Catalog:     catalog,
		Ownership:   o.ownership,
		Routes: []config.RouteConfig{{Name: "le-ss", From: "leadexec.lead", To: "sharpspring.lead",
			BatchSize: o.batchSize, Linger: config.Duration(o.linger)}},
	}
	// Events delivered to a process that then stopped come back after
	// AckWait; keep it short so restarts in tests resume quickly.
	h.cfg.Bus.NATS.AckWait = config.Duration(5 * time.Second)
	if o.bus == "kafka" {
		brokers, stop, err := kafkabus.StartFake()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		h.cfg.Bus = config.BusConfig{Kind: "kafka", Kafka: config.KafkaConfig{Brokers: brokers}}
	}
	if o.tweak != nil {
		o.tweak(h.cfg)
	}
	validConfig(t, h.cfg)
	h.open()
	t.Cleanup(func() {
		h.stop()
		srv.Close()
		if strings.Contains(h.logs.String(), testSecret) || strings.Contains(h.logs.String(), hookPass) {
			t.Errorf("a secret appeared in the logs")
		}
	})
	return h
}

func (h *harness) open() {
	h.t.Helper()
	level := slog.LevelDebug
	if h.infoLogs {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: level}))
	a, err := New(context.Background(), h.cfg, log)
	if err != nil {
		h.t.Fatal(err)
	}
	h.app = a
}

func (h *harness) start() {
	a := h.app
	h.stopRun = testenv.Go(h.t, "run", a.Run)
	h.waitFor("http ready", func() bool { return ready("http://" + a.AdminAddr()) })
}

// stop shuts the instance down gracefully and waits for it.
func (h *harness) stop() {
	if h.stopRun == nil {
		return
	}
	h.stopRun()
	h.stopRun = nil
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	waitLogged(h.t, h.logs, what, cond)
}

// settle waits until the route has consumed at least n events and nothing is
// pending on the bus.
func (h *harness) settle(n int64) {
	h.t.Helper()
	ru := h.app.Runners[0]
	h.waitFor(fmt.Sprintf("%d events settled", n), func() bool {
		b, _, err := h.app.Backlog(context.Background(), ru.Name())
		return err == nil && b == 0 && ru.Stats.Settled.Load() >= n
	})
}

// deliveryClient keeps connections to the webhook alive, as LeadExec's
// sender would under load.
var deliveryClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

// deliver plays one LeadExec delivery (form post) and requires success.
func (h *harness) deliver(uid int64, fields map[string]string) {
	h.t.Helper()
	v := url.Values{"LeadUID": {fmt.Sprint(uid)}}
	for k, x := range fields {
		v.Set(k, x)
	}
	code, _, err := postWebhook(deliveryClient, "http://"+h.app.Addr(), v, hookBasicAuth)
	if err != nil {
		h.t.Fatal(err)
	}
	if code != 200 {
		h.t.Fatalf("delivery of %d answered %d", uid, code)
	}
}

// hookBasicAuth signs a webhook request with the configured basic auth.
func hookBasicAuth(r *http.Request) { r.SetBasicAuth(hookUser, hookPass) }

// bearerAuth signs a request with the Bearer token, unless it is empty.
func bearerAuth(token string) func(*http.Request) {
	return func(r *http.Request) {
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
	}
}

// getAs GETs url signed by auth and returns the answer.
func getAs(url string, auth func(*http.Request)) (code int, body string, err error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// postWebhook posts the form v to the LeadExec webhook of the instance at
// base ("http://host:port"), signed by auth, and returns the answer.
func postWebhook(c *http.Client, base string, v url.Values, auth func(*http.Request)) (code int, body string, err error) {
	req, err := http.NewRequest(http.MethodPost, base+"/webhooks/leadexec", strings.NewReader(v.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	auth(req)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// publish puts a LeadExec lead event with an explicit change time on the bus,
// as the webhook would.
func (h *harness) publish(uid int64, at time.Time, fields map[string]string) {
	h.t.Helper()
	ev := pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: fmt.Sprint(uid), Fields: fields,
		ChangedAt: at, Version: at.Format(time.RFC3339Nano)}
	if err := ev.Seal(); err != nil {
		h.t.Fatal(err)
	}
	if err := h.app.Bus.Publish(context.Background(), ev); err != nil {
		h.t.Fatal(err)
	}
}

// lead returns the simulator's lead with that email, as strings.
func (h *harness) lead(email string) map[string]string {
	h.t.Helper()
	l, ok := h.sim.LeadByEmail(email)
	if !ok {
		h.t.Fatalf("SharpSpring has no lead %s", email)
	}
	out := map[string]string{}
	for k, v := range l.Fields {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// editLead edits the lead with that email in SharpSpring, as a user of
// SharpSpring would.
func (h *harness) editLead(email string, fields map[string]string) {
	h.t.Helper()
	l, ok := h.sim.LeadByEmail(email)
	if !ok {
		h.t.Fatalf("SharpSpring has no lead %s", email)
	}
	if _, err := sharpspringUpdate(h.simSrv.URL, l.ID, fields); err != nil {
		h.t.Fatal(err)
	}
}

// deleteField deletes the custom field of the catalog name in SharpSpring,
// as a user of SharpSpring would.
func (h *harness) deleteField(name string) {
	h.t.Helper()
	c, err := sharpspring.New(sharpspring.Config{Endpoint: h.cfg.SharpSpring.Endpoint, AccountID: testAccount, SecretKey: testSecret})
	if err != nil {
		h.t.Fatal(err)
	}
	var res map[string]any
	if err := c.Call(context.Background(), "deleteFields", map[string]any{"objects": []map[string]string{{"systemName": h.sys[name]}}}, &res); err != nil {
		h.t.Fatal(err)
	}
}

// leadWrites counts the lead write requests the simulator has answered.
func (h *harness) leadWrites() int {
	st := h.sim.Stats()
	return st.ByMethod["createLeads"] + st.ByMethod["updateLeadsV2"] + st.ByMethod["updateLeads"]
}

// assertOneLeadPerEmail fails on any duplicate email in the simulator.
func (h *harness) assertOneLeadPerEmail() int {
	h.t.Helper()
	seen := map[string]int64{}
	for _, l := range h.sim.Leads() {
		e := ""
		if p := l.Fields["emailAddress"]; p != nil {
			e = strings.ToLower(*p)
		}
		if prev, dup := seen[e]; dup {
			h.t.Errorf("duplicate lead for %s: ids %d and %d", e, prev, l.ID)
		}
		seen[e] = l.ID
	}
	return len(seen)
}

func nil2() *slog.Logger { return slog.New(slog.NewTextHandler(discard{}, nil)) }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// buses runs a test on each bus implementation, side by side: each run has
// its own bus, state and simulators.
func buses(t *testing.T, test func(t *testing.T, bus string)) {
	for _, bus := range []string{"nats", "kafka"} {
		t.Run(bus, func(t *testing.T) {
			t.Parallel()
			test(t, bus)
		})
	}
}

func newTestLogger(w *testenv.Log) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// ivvyLeadDefaults are the settings of a lead crmsync creates in iVvy.
var ivvyLeadDefaults = config.IVvyLeadDefaults{Source: "Website", Type: "Conference", Stage: "New", Quality: "Warm", Industry: "Other"}

// sharpSpringConfig is the SharpSpring section for the simulator at url
// (its v1.2 endpoint) with the test account, rate requests a second (0:
// the default).
func sharpSpringConfig(url string, rate float64) *config.SharpSpringConfig {
	return &config.SharpSpringConfig{Endpoint: url + "/pubapi/v1.2/", AccountID: testAccount, SecretKey: testSecret, RatePerSecond: rate}
}

// sharpSpringPolling is sharpSpringConfig at the default rate with its
// lead poller polling every second, from a minute ago, with a 2 s overlap
// and no lag.
func sharpSpringPolling(url string) *config.SharpSpringConfig {
	c := sharpSpringConfig(url, 0)
	c.Poller = config.SharpSpringPollerConfig{Interval: config.Duration(time.Second), Overlap: config.Duration(2 * time.Second),
		Lag: config.Duration(-1), Since: time.Now().UTC().Add(-time.Minute)}
	return c
}

// ivvyConfig is the iVvy section for the simulator at url with the key and
// secret, 50 requests a second.
func ivvyConfig(url string, key, secret config.Secret) *config.IVvyConfig {
	return &config.IVvyConfig{Endpoint: url, APIKey: key, APISecret: secret, RatePerSecond: 50, LeadDefaults: ivvyLeadDefaults}
}

// getleadConfig is the Getlead section for the simulator at url (classic
// API and V3) with the token and key, 50 requests a second, polling every
// second.
func getleadConfig(url string, token, apiKey config.Secret) *config.GetleadConfig {
	return &config.GetleadConfig{BaseURL: url, V3BaseURL: url + "/api/v1", Token: token, APIKey: apiKey,
		RatePerSecond: 50, Poller: config.PollerConfig{Interval: config.Duration(time.Second)}}
}

// serve serves h over real HTTP until the test ends and returns its base
// URL.
func serve(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// serveSharpSpring starts a SharpSpring simulator that knows the test
// account and serves it until the test ends.
func serveSharpSpring(t testing.TB) (*sharpspringsim.Server, string) {
	sim := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{testAccount: testSecret}})
	url := serve(t, sim)
	t.Cleanup(sim.Close)
	return sim, url
}

// serveIVvy starts an iVvy simulator and serves it until the test ends.
func serveIVvy(t testing.TB, o ivvysim.Options) (*ivvysim.Server, string) {
	sim := ivvysim.New(o)
	url := serve(t, sim)
	t.Cleanup(sim.Close)
	return sim, url
}

// serveGetlead starts a Getlead simulator and serves it until the test ends.
func serveGetlead(t testing.TB, o getleadsim.Options) (*getleadsim.Server, string) {
	sim := getleadsim.New(o)
	url := serve(t, sim)
	t.Cleanup(sim.Close)
	return sim, url
}

// validConfig applies cfg's defaults and fails the test when it does not
// validate.
func validConfig(t testing.TB, cfg *config.Config) {
	t.Helper()
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// startApp applies cfg's defaults, fails the test when it does not
// validate, builds an instance from it, logging into logs, and runs it.
// stop cancels the run, waits for it and returns its error.
func startApp(t testing.TB, cfg *config.Config, logs *testenv.Log) (a *App, stop func() error) {
	t.Helper()
	validConfig(t, cfg)
	a, err := New(context.Background(), cfg, newTestLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, func() error {
		cancel()
		return <-done
	}
}

// runApp is startApp whose stop fails the test when the run ended in an
// error.
func runApp(t testing.TB, cfg *config.Config, logs *testenv.Log) (*App, func()) {
	t.Helper()
	a, stop := startApp(t, cfg, logs)
	return a, func() {
		if err := stop(); err != nil {
			t.Errorf("run: %v", err)
		}
	}
}

// openOffline opens cfg's routes and state as the commands beside a
// running instance do, and its bus (on NATS, joining the running
// instance's embedded server); both are closed when the test ends.
func openOffline(t testing.TB, cfg *config.Config) (*App, Bus) {
	t.Helper()
	ctx := context.Background()
	off, err := NewOffline(ctx, cfg, nil2())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(off.Close)
	bus, err := OpenBus(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	return off, bus
}

// waitLogged polls cond until it holds and fails the test after a minute,
// showing the end of the instance's log.
func waitLogged(t testing.TB, logs *testenv.Log, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, tail(logs.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waiter is waitLogged for one test and one instance's log.
func waiter(t testing.TB, logs *testenv.Log) func(what string, cond func() bool) {
	return func(what string, cond func() bool) {
		t.Helper()
		waitLogged(t, logs, what, cond)
	}
}

// ready reports whether the HTTP listener at base ("http://host:port")
// answers /readyz with 200.
func ready(base string) bool {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// sharpspringUpdate edits a lead through the SharpSpring API, as a user of
// SharpSpring would.
func sharpspringUpdate(base string, id int64, fields map[string]string) ([]sharpspring.ObjectResult, error) {
	c, err := sharpspring.New(sharpspring.Config{Endpoint: base + "/pubapi/v1.2/", AccountID: testAccount, SecretKey: testSecret})
	if err != nil {
		return nil, err
	}
	obj := map[string]any{"id": fmt.Sprint(id)}
	for k, v := range fields {
		obj[k] = v
	}
	return c.UpdateLeadsV2(context.Background(), []map[string]any{obj})
}
