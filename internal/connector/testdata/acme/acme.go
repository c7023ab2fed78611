// Package acme is Acme CRM, a small fictional vendor built as one
// connector: its API client, simulator, codec, sink, poller and history
// pager, and the one file (this one) that registers them with
// internal/connector. It lives under testdata so that only the tests that
// import it have the vendor: it proves that a vendor needs no change
// anywhere else.
//
// Acme's lead API takes an API key in the X-Api-Key header and has three
// calls: POST /v1/leads/batch upserts up to 100 leads by id or email,
// answering per lead; GET /v1/leads?updated_since=…&after=…&limit=… lists
// the leads changed since a time, ordered by (updated_at, id), with a
// keyset cursor; GET /v1/leads?ids=… (or ?emails=…) reads leads back.
package acme

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/connector"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/simkit"
)

func init() {
	connector.Register(connector.Connector{
		Vendor: config.Vendor{Name: Vendor, Title: "Acme CRM", Reads: []string{Entity}, Writes: []string{Entity},
			ReadBack: []string{Entity}, NewSection: func() config.Section { return &Section{} }, MaxBatch: MaxBatch},
		Open:  open,
		Pages: true,
		Sim:   startSim,
	})
}

// Section is the acme section of the configuration.
type Section struct {
	// Endpoint is the API root, e.g. https://api.acme-crm.example;
	// required.
	Endpoint string `yaml:"endpoint"`
	// APIKey is the account's key (use ${ACME_API_KEY}); required.
	APIKey config.Secret `yaml:"api_key"`
	// RatePerSecond is the account's request rate, shared by every process
	// on the state; default 5.
	RatePerSecond float64 `yaml:"rate_per_second"`
	// Timeout bounds one request; default 30s.
	Timeout config.Duration `yaml:"timeout"`
	// Poller configures the acme.lead poller: interval (default 1m) and
	// since (default: all of Acme's history).
	Poller config.PollerConfig `yaml:"poller"`
}

// ApplyDefaults implements config.Section.
func (s *Section) ApplyDefaults() {
	if s.RatePerSecond == 0 {
		s.RatePerSecond = 5
	}
	if s.Timeout == 0 {
		s.Timeout = config.Duration(30 * time.Second)
	}
	if s.Poller.Interval == 0 {
		s.Poller.Interval = config.Duration(time.Minute)
	}
}

// Validate implements config.Section: every problem, by its path in the
// section.
func (s *Section) Validate(add func(path, format string, args ...any)) {
	if u, err := url.Parse(s.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("endpoint", "%q is not an absolute http(s) URL", s.Endpoint)
	}
	if s.APIKey == "" {
		add("api_key", "is required (use ${ACME_API_KEY})")
	}
	if s.RatePerSecond <= 0 || s.RatePerSecond > 1000 {
		add("rate_per_second", "%g is outside (0, 1000]", s.RatePerSecond)
	}
	if s.Timeout <= 0 {
		add("timeout", "%s must be positive", s.Timeout.Std())
	}
	if s.Poller.Interval.Std() < time.Second {
		add("poller.interval", "%s is under 1s", s.Poller.Interval.Std())
	}
}

// Account is the account's label in the state: "acme:" and the first 12
// hex digits of the SHA-256 of the API key (the key itself is a
// credential).
func (s *Section) Account() string {
	h := sha256.Sum256([]byte(s.APIKey.Value()))
	return "acme:" + hex.EncodeToString(h[:6])
}

// open builds the account: one client on the account's shared rate window
// for the sink, the poller and the pager.
func open(_ context.Context, env connector.Env) (*connector.Account, error) {
	s := env.Section.(*Section)
	budget := pipeline.NewBudget(pipeline.BudgetConfig{Account: s.Account(), PerSecond: s.RatePerSecond, Shared: true}, env.State)
	c, err := NewClient(ClientConfig{BaseURL: s.Endpoint, APIKey: s.APIKey.Value(),
		HTTPClient: &http.Client{Timeout: s.Timeout.Std()}, Gate: budget})
	if err != nil {
		return nil, err
	}
	acc := &connector.Account{
		LeadCodec: Codec{},
		Budgets:   []*pipeline.Budget{budget},
		Stats:     c.Stats,
		Pager: func(_ string, since, until time.Time) (pipeline.Pager, error) {
			return &Pager{Client: c, Since: since, Until: until}, nil
		},
	}
	if env.Writes(Vendor, Entity) {
		sink, err := NewSink(SinkConfig{Client: c, InDoubtWait: s.Timeout.Std()})
		if err != nil {
			return nil, err
		}
		acc.Sinks = map[string]pipeline.Sink{Entity: sink}
	}
	if env.Reads(Vendor, Entity) && env.Bus != nil {
		p, err := NewPoller(PollerConfig{Client: c, State: env.State, Publisher: env.Bus,
			Interval: s.Poller.Interval.Std(), StartFrom: s.Poller.Since, Logger: env.Log})
		if err != nil {
			return nil, err
		}
		acc.Sources = append(acc.Sources, p)
	}
	return acc, nil
}

// liveSim is a Simulator served on a loopback port, as connector.Sim.
type liveSim struct {
	sim  *Simulator
	url  string
	stop func()
}

func startSim() (connector.Sim, error) {
	sim := NewSimulator(SimOptions{})
	u, stop, err := simkit.Serve(sim, "")
	if err != nil {
		return nil, err
	}
	return &liveSim{sim: sim, url: u, stop: stop}, nil
}

func (l *liveSim) URL() string { return l.url }

func (l *liveSim) Section() config.Section {
	s := &Section{Endpoint: l.url, APIKey: config.Secret(l.sim.APIKey())}
	s.ApplyDefaults()
	return s
}

func (l *liveSim) Secrets() []string { return []string{l.sim.APIKey()} }

// Leads are the simulator's leads as canonical fields.
func (l *liveSim) Leads() []map[string]string {
	stored := l.sim.Leads()
	out := make([]map[string]string, 0, len(stored))
	for _, s := range stored {
		lead, err := Codec{}.Decode(s.Fields)
		if err != nil {
			lead = map[string]string{}
			for f, v := range s.Fields {
				lead[canonical[f]] = v
			}
		}
		out = append(out, lead)
	}
	return out
}

func (l *liveSim) Close() {
	l.sim.Close()
	l.stop()
}
