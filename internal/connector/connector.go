// Package connector is the registry of vendor connectors. A connector is
// one value that names everything a vendor brings: its configuration
// section (defaults and validation), the entities routes can read from it
// and write to it, how its account is opened into codecs, sinks, sources
// and history pagers, and, optionally, its simulator. A vendor added this
// way needs no change in the configuration, the application, the command
// line or the end-to-end scenario: they loop over the registry.
//
//	func init() {
//		connector.Register(connector.Connector{
//			Vendor: config.Vendor{Name: "acme", Title: "Acme CRM", Reads: []string{"lead"}, Writes: []string{"lead"},
//				ReadBack: []string{"lead"}, NewSection: func() config.Section { return &Section{} }},
//			Open: open,
//			Sim:  startSim,
//		})
//	}
//
// The model is Benthos's component registry (a component registers itself
// with its config spec) and Conduit's builtin connector list.
package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/registry"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
)

// Connector is one vendor.
type Connector struct {
	// Vendor is the vendor's name, entities and configuration section;
	// Register registers it with the configuration.
	config.Vendor
	// Builtin is set only by the vendors whose section is a field of
	// config.Config: their Vendor is not registered with the
	// configuration, which knows them already.
	Builtin bool
	// Open prepares the vendor's account for the routes that use it. It is
	// called once per process when the configuration has the vendor's
	// section.
	Open func(ctx context.Context, env Env) (*Account, error)
	// Pages says that Open gives every entity of Reads a history pager
	// (Account.Pager): `crmsync backfill --source`, `crmsync verify` and
	// reconciliation can then page through the vendor's history.
	Pages bool
	// Sim, when set, starts the vendor's simulator: `crmsync sim` serves
	// it, and the end-to-end scenario (the demo, the crash and fault tests)
	// routes SharpSpring's leads to it and checks what it holds.
	Sim func() (Sim, error)
}

// Env is what an account is opened with.
type Env struct {
	// Section is the vendor's section of the configuration, defaults
	// applied and validated: the value the vendor's NewSection made.
	Section config.Section
	// Config is the whole configuration (routes, catalog, ownership).
	Config  *config.Config
	Catalog *mappings.Catalog
	State   pipeline.State
	// Bus is where sources publish; nil in a process that runs no sources
	// (dead-letter and status commands), which must not build any.
	Bus pipeline.Publisher
	Log *slog.Logger
}

// Reads reports whether a route reads entity from the vendor named name.
func (e Env) Reads(name, entity string) bool {
	return slices.ContainsFunc(e.Config.Routes, func(r config.RouteConfig) bool { return r.From == name+"."+entity })
}

// Writes reports whether a route writes entity to the vendor named name.
func (e Env) Writes(name, entity string) bool {
	return slices.ContainsFunc(e.Config.Routes, func(r config.RouteConfig) bool { return r.To == name+"."+entity })
}

// Account is an opened vendor account: what routes and commands use.
type Account struct {
	// LeadCodec and ClientCodec translate the vendor's fields to and from
	// canonical leads and clients; nil when the vendor has no such entity.
	LeadCodec   mappings.LeadCodec
	ClientCodec mappings.ClientCodec
	// Sinks write each entity of Writes that a route writes.
	Sinks map[string]pipeline.Sink
	// Sources are the pollers and receivers of each entity a route reads
	// (only when Env.Bus is set). A source's Name is its lease on a
	// cluster: one instance runs it.
	Sources []pipeline.Source
	// Pager, when set, returns the history pager of an entity, for
	// `crmsync backfill`, `crmsync verify` and reconciliation; since and
	// until bound the history (zero: unbounded).
	Pager func(entity string, since, until time.Time) (pipeline.Pager, error)
	// Webhooks are the account's webhook receivers (only when Env.Bus is
	// set), served on http.listen.
	Webhooks []Webhook
	// SafetyNet, when set, counts the polls of a source that looks for
	// changes the vendor's webhook never delivered, and the changes it
	// found (published in their place), for /status and the metrics.
	SafetyNet func() (polls, missed int64)
	// Budgets are the account's request budgets, shown on /status.
	Budgets []*pipeline.Budget
	// Stats, when set, counts the account's requests by API method and its
	// error answers by code, for /status.
	Stats func() (requests, errors map[string]int64)
	// Close releases what the account holds open; nil when nothing.
	Close func() error
}

// Webhook is an endpoint a vendor delivers changes to.
type Webhook struct {
	// Path is where http.listen serves Handler.
	Path    string
	Handler http.Handler
	// Stop makes the receiver refuse new deliveries (503, so that the
	// vendor retries elsewhere or later): the instance is stopping.
	Stop func()
	// Stats counts the deliveries by outcome.
	Stats func() WebhookStats
}

// WebhookStats counts a webhook's deliveries since start.
type WebhookStats struct {
	Accepted, Duplicates int64
	// Rejected counts refused deliveries by reason.
	Rejected map[string]int64
}

// Sim is a running simulator of a vendor.
type Sim interface {
	// URL is where the simulator serves its API.
	URL() string
	// Section is a configuration section that points crmsync at the
	// simulator, with its credentials.
	Section() config.Section
	// Secrets lists the credentials in Section, for checks that none leaks
	// into logs and pages.
	Secrets() []string
	// Leads returns every lead the simulator holds, as canonical fields
	// (first_name, last_name, email, …), for the scenario's verdict.
	Leads() []map[string]string
	// Close stops the simulator.
	Close()
}

var connectors registry.Of[Connector]

// Register adds a connector (and its configuration section). It panics on
// a connector without Open or on a name already taken: programming errors.
func Register(c Connector) {
	if c.Open == nil {
		panic("connector: " + c.Name + " has no Open")
	}
	if !c.Builtin {
		config.RegisterVendor(c.Vendor)
	}
	if !connectors.Add(c.Name, c) {
		panic("connector: " + c.Name + " is registered twice")
	}
}

// All lists the registered connectors by name.
func All() []Connector { return connectors.All() }

// Lookup returns the connector of a vendor.
func Lookup(name string) (Connector, bool) { return connectors.Get(name) }

// Opened is every configured connector's account, by vendor name.
type Opened map[string]*Account

// OpenAll opens the account of every registered connector whose section
// the configuration has. On error, what was opened is closed again.
func OpenAll(ctx context.Context, env Env) (Opened, error) {
	out := Opened{}
	for _, c := range All() {
		s := env.Config.Section(c.Name)
		if s == nil {
			continue
		}
		e := env
		e.Section = s
		e.Log = env.Log.With("vendor", c.Name)
		a, err := c.Open(ctx, e)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s: %w", c.Name, err), out.Close())
		}
		out[c.Name] = a
	}
	return out, nil
}

// Close closes every account and returns the first error.
func (o Opened) Close() error {
	var first error
	for _, a := range o {
		if a.Close == nil {
			continue
		}
		if err := a.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Sink returns the sink of target (<vendor>.<entity>).
func (o Opened) Sink(target string) (pipeline.Sink, bool) {
	vendor, entity, _ := strings.Cut(target, ".")
	a := o[vendor]
	if a == nil {
		return nil, false
	}
	s, ok := a.Sinks[entity]
	return s, ok && s != nil
}

// LeadCodec returns the lead codec of a vendor.
func (o Opened) LeadCodec(vendor string) mappings.LeadCodec {
	if a := o[vendor]; a != nil {
		return a.LeadCodec
	}
	return nil
}

// ClientCodec returns the client codec of a vendor.
func (o Opened) ClientCodec(vendor string) mappings.ClientCodec {
	if a := o[vendor]; a != nil {
		return a.ClientCodec
	}
	return nil
}
