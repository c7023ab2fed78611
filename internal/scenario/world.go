// Package scenario is crmsync's end-to-end proof: simulators of every vendor,
// a configuration that routes between them, LeadExec delivering generated
// leads (edits, explicit clears, retried deliveries), users editing leads in
// iVvy, and a verdict that compares every target with what its sources hold.
// The demo runs it against an in-process pipeline; the crash test against a
// child process that is killed again and again; the fault matrix against
// simulators that misbehave.
package scenario

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/connector"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
	"github.com/crmsync/crmsync/vendors/simkit"
)

// Options shape a scenario.
type Options struct {
	// Leads is how many leads LeadExec delivers. Required.
	Leads int
	// Seed for the generated leads.
	Seed int64
	// NoLimit turns SharpSpring's 10 requests/second and daily limits off
	// in the simulator and the client.
	NoLimit bool
	// Listen is the pipeline's HTTP address; default 127.0.0.1:0. A
	// pipeline that restarts needs a fixed port.
	Listen string
	// DeliveryRetries and RetryDelay are LeadExec's retry settings for its
	// deliveries; default 5 retries, 250ms apart.
	DeliveryRetries int
	RetryDelay      time.Duration
	// Say reports progress; nil is quiet.
	Say func(format string, args ...any)
	// Account and Secret are SharpSpring's account id and secret key;
	// default "demo-account" and a random key.
	Account, Secret string
	// SimListen are the simulators' addresses; an empty one is a free
	// loopback port.
	SimListen SimAddrs
}

// FreeAddr returns a loopback address with a port free right now, for the
// Listen of a pipeline that restarts on the same address. Another process
// may take the port before the pipeline listens on it.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// SimAddrs are listen addresses (host:port) of the four simulators.
type SimAddrs struct{ SharpSpring, IVvy, Getlead, LeadExec string }

// World holds the simulators and the configuration of a pipeline that
// routes between them.
type World struct {
	o      Options
	SS     *sharpspringsim.Server
	IV     *ivvysim.Server
	GL     *getleadsim.Server
	LE     *leadexecsim.Server // LeadExec's APIs: lead receiver, clients, lead data
	Config *config.Config

	account, secret string
	user, pass      string
	postingKey      string // LeadExec V2 receiver api-key
	// ssOriginCheck reports whether LeadExec holds each lead made in
	// SharpSpring once, as first made (set by playSharpSpringLeads).
	ssOriginCheck func() (bool, string)
	leCustom      []string // LeadExec names of the custom fields
	// Connected are the simulators of vendors added by connectors, by
	// vendor name: each receives SharpSpring's leads through a route of its
	// own.
	Connected map[string]connector.Sim
	stops     []func()
}

// Env names of the secrets in ChildConfig.
const (
	envSharpSpring = "CRMSYNC_SIM_SHARPSPRING_SECRET"
	envWebhook     = "CRMSYNC_SIM_WEBHOOK_PASSWORD"
	envIVvy        = "CRMSYNC_SIM_IVVY_SECRET"
	envIVvyKey     = "CRMSYNC_SIM_IVVY_KEY"
	envGetlead     = "CRMSYNC_SIM_GETLEAD_TOKEN"
	envGetleadKey  = "CRMSYNC_SIM_GETLEAD_API_KEY"
	envLEKey       = "CRMSYNC_SIM_LEADEXEC_KEY"
	envLESecret    = "CRMSYNC_SIM_LEADEXEC_CLIENT_SECRET"
	envLEPosting   = "CRMSYNC_SIM_LEADEXEC_POSTING_KEY"
)

// New starts the simulators, each on a loopback port, and prepares a
// configuration (defaults applied, validated) with its state in dataDir and
// eight routes: LeadExec → SharpSpring, LeadExec → Getlead, SharpSpring ⇄
// iVvy, SharpSpring → Getlead, SharpSpring → LeadExec, and SharpSpring
// agency clients ⇄ LeadExec clients.
func New(dataDir string, o Options) (*World, error) {
	if o.Leads < 1 {
		return nil, errors.New("scenario: at least one lead")
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.DeliveryRetries == 0 {
		o.DeliveryRetries = 5
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = 250 * time.Millisecond
	}
	if o.Say == nil {
		o.Say = func(string, ...any) {}
	}
	w := &World{o: o, account: "demo-account", secret: rand.Text(), user: "leadexec", pass: rand.Text(), postingKey: rand.Text()}
	if o.Account != "" {
		w.account = o.Account
	}
	if o.Secret != "" {
		w.secret = o.Secret
	}
	simOpts := sharpspringsim.Options{Accounts: map[string]string{w.account: w.secret}}
	if o.NoLimit {
		simOpts.RateLimitPerSecond, simOpts.DailyLimit = -1, -1
	}
	w.SS = sharpspringsim.New(simOpts)
	w.IV = ivvysim.New(ivvysim.Options{})
	w.GL = getleadsim.New(getleadsim.Options{})
	w.LE = leadexecsim.NewServer(leadexecsim.Options{PostingKey: w.postingKey})
	w.stops = append(w.stops, w.SS.Close, w.IV.Close)
	var urls [4]string
	addrs := []string{o.SimListen.SharpSpring, o.SimListen.IVvy, o.SimListen.Getlead, o.SimListen.LeadExec}
	for i, h := range []http.Handler{w.SS, w.IV, w.GL, w.LE} {
		u, stop, err := simkit.Serve(h, addrs[i])
		if err != nil {
			w.Close()
			return nil, err
		}
		urls[i] = u
		w.stops = append(w.stops, stop)
	}
	ssURL, ivURL, glURL, leURL := urls[0], urls[1], urls[2], urls[3]

	// SharpSpring's custom fields have the types of the values they carry
	// (the simulator refuses others, as SharpSpring does).
	custom := []struct{ name, label, ivvy, ssType string }{
		{"favorite_color", "Favorite Color", "101", "text"}, {"lead_source_detail", "Lead Source Detail", "102", "text"},
		{"budget", "Budget", "103", "int"},
	}
	var catalog []mappings.CatalogField
	for _, c := range custom {
		sys := w.SS.CreateField("lead", c.label, c.ssType)
		lx := strings.ReplaceAll(c.label, " ", "")
		catalog = append(catalog, mappings.CatalogField{Name: c.name, Label: c.label, SharpSpring: sys, LeadExec: lx, IVvy: c.ivvy})
		w.leCustom = append(w.leCustom, lx)
	}
	// LeadExec's lead type carries the custom fields too: crmsync checks the
	// catalog against its fields (GetLeadFields) at start-up.
	lt := leadexecsim.DefaultLeadTypes()[0]
	for _, name := range w.leCustom {
		lt.Fields = append(lt.Fields, leadexecsim.LeadField{Name: name})
	}
	w.LE.SetLeadType(lt)
	linger := config.Duration(200 * time.Millisecond)
	cfg := &config.Config{
		DataDir: dataDir,
		HTTP:    config.HTTPConfig{Listen: o.Listen},
		SharpSpring: &config.SharpSpringConfig{
			Endpoint: ssURL + "/pubapi/v1.2/", AccountID: w.account, SecretKey: config.Secret(w.secret), RatePerSecond: 9,
			Poller: config.SharpSpringPollerConfig{Interval: config.Duration(time.Second), Overlap: config.Duration(2 * time.Second),
				Lag: config.Duration(-1), Since: time.Now().UTC().Add(-time.Minute)},
			ClientPoller: config.ClientPollerConfig{Interval: config.Duration(time.Second)},
		},
		IVvy: &config.IVvyConfig{Endpoint: ivURL, APIKey: ivvysim.DefaultKey, APISecret: ivvysim.DefaultSecret, RatePerSecond: 1000,
			LeadDefaults: config.IVvyLeadDefaults{Source: "Website", Type: "Conference", Stage: "New", Quality: "Warm", Industry: "Other"},
			Poller:       config.PollerConfig{Interval: config.Duration(time.Second)}},
		Getlead: &config.GetleadConfig{BaseURL: glURL, V3BaseURL: glURL + "/api/v1", Token: getleadsim.DefaultToken,
			APIKey: getleadsim.DefaultAPIKey, CountryCode: "1", RatePerSecond: 1000},
		LeadExec: &config.LeadExecConfig{
			APIURL: leURL, LeadsURL: leURL, DataURL: leURL,
			Key: config.Secret(leadexecsim.DefaultKey), ClientID: leadexecsim.DefaultClientID,
			ClientSecret: config.Secret(leadexecsim.DefaultClientSecret),
			Webhook:      config.WebhookConfig{BasicUser: w.user, BasicPassword: config.Secret(w.pass)},
			Receiver: config.LeadExecReceiverConfig{VID: leadexecsim.DefaultVID, LID: leadexecsim.DefaultLID,
				AID: leadexecsim.DefaultAID, APIKey: config.Secret(w.postingKey)},
			// Leads LeadExec took more than a minute ago and never delivered
			// are published from the lead data API.
			SafetyNet: config.LeadExecSafetyNetConfig{LeadTypes: []int64{leadexecsim.DefaultLID},
				Interval: config.Duration(time.Second), Lookback: config.Duration(time.Hour), MinAge: config.Duration(time.Minute)},
			ClientPoller: config.ClientPollerConfig{Interval: config.Duration(time.Second)},
		},
		Catalog: catalog,
		Routes: []config.RouteConfig{
			{Name: "leadexec-to-sharpspring", From: "leadexec.lead", To: "sharpspring.lead", Linger: linger},
			{Name: "leadexec-to-getlead", From: "leadexec.lead", To: "getlead.lead", Linger: linger},
			{Name: "sharpspring-to-ivvy", From: "sharpspring.lead", To: "ivvy.lead", Linger: linger},
			{Name: "ivvy-to-sharpspring", From: "ivvy.lead", To: "sharpspring.lead", Linger: linger},
			{Name: "sharpspring-to-getlead", From: "sharpspring.lead", To: "getlead.lead", Linger: linger},
			{Name: "sharpspring-to-leadexec", From: "sharpspring.lead", To: "leadexec.lead", Linger: linger},
			{Name: "sharpspring-clients-to-leadexec", From: "sharpspring.client", To: "leadexec.client", Linger: linger},
			{Name: "leadexec-clients-to-sharpspring", From: "leadexec.client", To: "sharpspring.client", Linger: linger},
		},
	}
	if err := w.connect(cfg, linger); err != nil {
		w.Close()
		return nil, err
	}
	cfg.ApplyDefaults()
	cfg.SharpSpring.Unlimited = o.NoLimit
	w.Config = cfg
	return w, nil
}

// connect starts the simulator of every registered connector that can
// write leads and routes SharpSpring's leads to it: every lead of the
// scenario passes through SharpSpring (LeadExec's and those made there),
// with every edit.
func (w *World) connect(cfg *config.Config, linger config.Duration) error {
	for _, c := range connector.All() {
		if c.Sim == nil || !slices.Contains(c.Writes, "lead") {
			continue
		}
		sim, err := c.Sim()
		if err != nil {
			return fmt.Errorf("scenario: %s simulator: %w", c.Name, err)
		}
		w.stops = append(w.stops, sim.Close)
		if w.Connected == nil {
			w.Connected = map[string]connector.Sim{}
		}
		w.Connected[c.Name] = sim
		if cfg.Sections == nil {
			cfg.Sections = map[string]config.Section{}
		}
		cfg.Sections[c.Name] = sim.Section()
		cfg.Routes = append(cfg.Routes, config.RouteConfig{Name: "sharpspring-to-" + c.Name, From: "sharpspring.lead", To: c.Name + ".lead", Linger: linger})
	}
	return nil
}

// Close stops the simulators.
func (w *World) Close() {
	for i := len(w.stops) - 1; i >= 0; i-- {
		w.stops[i]()
	}
	w.stops = nil
}

// ChildConfig renders the configuration as a crmsync.yaml for a separate
// process, with every secret read from the environment, and returns the
// environment entries that carry them.
func (w *World) ChildConfig() ([]byte, []string, error) {
	b, err := config.Marshal(w.Config)
	if err != nil {
		return nil, nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, nil, err
	}
	set := func(path, env string) {
		parts := strings.Split(path, ".")
		m := doc
		for _, p := range parts[:len(parts)-1] {
			m, _ = m[p].(map[string]any)
			if m == nil {
				return
			}
		}
		m[parts[len(parts)-1]] = "${" + env + "}"
	}
	set("sharpspring.secret_key", envSharpSpring)
	set("leadexec.webhook.basic_password", envWebhook)
	set("ivvy.api_secret", envIVvy)
	set("ivvy.api_key", envIVvyKey)
	set("getlead.token", envGetlead)
	set("getlead.api_key", envGetleadKey)
	set("leadexec.key", envLEKey)
	set("leadexec.client_secret", envLESecret)
	set("leadexec.receiver.api_key", envLEPosting)
	var connected []string
	for _, name := range slices.Sorted(maps.Keys(w.Connected)) {
		for _, s := range config.SecretsOf(w.Config.Sections[name]) {
			env := "CRMSYNC_SIM_" + strings.ToUpper(name+"_"+strings.ReplaceAll(s.Path, ".", "_"))
			set(name+"."+s.Path, env)
			connected = append(connected, env+"="+s.Value.Value())
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	env := []string{
		envSharpSpring + "=" + w.secret, envWebhook + "=" + w.pass, envIVvy + "=" + w.Config.IVvy.APISecret.Value(),
		envIVvyKey + "=" + w.Config.IVvy.APIKey.Value(),
		envGetlead + "=" + w.Config.Getlead.Token.Value(), envGetleadKey + "=" + w.Config.Getlead.APIKey.Value(),
		envLEKey + "=" + w.Config.LeadExec.Key.Value(), envLESecret + "=" + w.Config.LeadExec.ClientSecret.Value(),
		envLEPosting + "=" + w.postingKey,
	}
	return out, append(env, connected...), nil
}

// Secrets lists every secret of the world, for checks that none leaks.
func (w *World) Secrets() []string {
	out := []string{w.secret, w.pass, w.Config.IVvy.APISecret.Value(), w.Config.IVvy.APIKey.Value(), w.Config.Getlead.Token.Value(), w.Config.Getlead.APIKey.Value(),
		w.Config.LeadExec.Key.Value(), w.Config.LeadExec.ClientSecret.Value(), w.postingKey}
	for _, sim := range w.Connected {
		out = append(out, sim.Secrets()...)
	}
	return out
}

// waitUntil polls cond until it holds or ctx ends.
func waitUntil(ctx context.Context, cond func() bool) error {
	for !cond() {
		if !pipeline.Sleep(ctx, 200*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}
