package app

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/connector"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	lesink "github.com/crmsync/crmsync/sinks/leadexec"
	"github.com/crmsync/crmsync/sources/leadexec"
	levendor "github.com/crmsync/crmsync/vendors/leadexec"
)

// vendorSet holds the configured vendor accounts: API clients, codecs and
// sinks by "<vendor>.<entity>".
type vendorSet struct {
	leadexec     *levendor.Client
	codecs       map[string]mappings.LeadCodec
	clientCodecs map[string]mappings.ClientCodec
	sinks        map[string]pipeline.Sink
	budgets      []*pipeline.Budget
	// connected are the accounts opened by their connectors (every vendor
	// but LeadExec, which is wired here).
	connected connector.Opened
	// leadFields holds the fields of the LeadExec lead type crmsync posts
	// to; the lead sink posts by it and the field watch refreshes it.
	leadFields *levendor.LeadTypeFields
}

// openVendors opens every configured vendor account. bus is nil in an
// offline process, which builds no sources.
func openVendors(ctx context.Context, cfg *config.Config, cat *mappings.Catalog, state pipeline.State, bus pipeline.Publisher, log *slog.Logger) (*vendorSet, error) {
	v := &vendorSet{codecs: map[string]mappings.LeadCodec{}, clientCodecs: map[string]mappings.ClientCodec{}, sinks: map[string]pipeline.Sink{}}
	v.codecs["leadexec.lead"] = mappings.LeadExecLeads{Catalog: cat}
	if err := v.openLeadExec(ctx, cfg, cat, log); err != nil {
		return nil, err
	}
	if err := v.openConnected(ctx, connector.Env{Config: cfg, Catalog: cat, State: state, Bus: bus, Log: log}); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

// openConnected opens the accounts of the registered connectors and takes
// their codecs, sinks and budgets in.
func (v *vendorSet) openConnected(ctx context.Context, env connector.Env) error {
	opened, err := connector.OpenAll(ctx, env)
	if err != nil {
		return err
	}
	v.connected = opened
	for _, name := range slices.Sorted(maps.Keys(opened)) {
		a := opened[name]
		if a.LeadCodec != nil {
			v.codecs[name+".lead"] = a.LeadCodec
		}
		if a.ClientCodec != nil {
			v.clientCodecs[name+".client"] = a.ClientCodec
		}
		for entity, s := range a.Sinks {
			v.sinks[name+"."+entity] = s
		}
		v.budgets = append(v.budgets, a.Budgets...)
	}
	return nil
}

// close releases what the vendors hold open.
func (v *vendorSet) close() {
	if err := v.connected.Close(); err != nil {
		slog.Warn("closing a vendor account", "err", err)
	}
	v.connected = nil
}

// openLeadExec prepares the LeadExec client and the sinks the routes
// write to.
func (v *vendorSet) openLeadExec(ctx context.Context, cfg *config.Config, cat *mappings.Catalog, log *slog.Logger) error {
	l := cfg.LeadExec
	if l == nil {
		return nil
	}
	c, err := levendor.New(levendor.Config{APIURL: l.APIURL, LeadsURL: l.LeadsURL, DataURL: l.DataURL,
		Key: l.Key.Value(), Namespace: l.ASMXNamespace, ClientID: l.ClientID, ClientSecret: l.ClientSecret.Value(),
		HTTPClient: &http.Client{Timeout: l.Timeout.Std()}})
	if err != nil {
		return fmt.Errorf("leadexec: %w", err)
	}
	v.leadexec = c
	v.leadFields = &levendor.LeadTypeFields{}
	if fc := leadExecFieldCheck(cfg); fc.Post > 0 || len(fc.Read) > 0 {
		if l.Key == "" {
			return errNoLeadExecKey
		}
		if err := checkLeadExecFields(ctx, c, fc, cat, v.leadFields, log); err != nil {
			return err
		}
	}
	v.clientCodecs["leadexec.client"] = mappings.LeadExecClients{}
	if routesTo(cfg, "leadexec.lead") {
		r := l.Receiver
		var readBack lesink.LeadReader
		if l.ClientID != "" {
			readBack = c // the lead data API settles posts whose answer was unreadable
		}
		sink, err := lesink.NewLeadSink(lesink.LeadSinkConfig{Version: r.Version, MaxLeadsPerPost: r.MaxLeadsPerPost, Logger: log,
			Fields: v.leadFields, ReadBack: readBack,
			Source: levendor.Source{VID: r.VID, LID: r.LID, AID: r.AID, APIKey: r.APIKey.Value(), Password: r.Password.Value(),
				SendDelay: r.SendDelay}}, c)
		if err != nil {
			return err
		}
		v.sinks["leadexec.lead"] = sink
	}
	if routesTo(cfg, "leadexec.client") {
		v.sinks["leadexec.client"] = lesink.NewClientSink(lesink.ClientSinkConfig{Logger: log}, c)
	}
	return nil
}

func routesTo(cfg *config.Config, target string) bool {
	for _, r := range cfg.Routes {
		if r.To == target {
			return true
		}
	}
	return false
}

func routesFrom(cfg *config.Config, source string) bool {
	for _, r := range cfg.Routes {
		if r.From == source {
			return true
		}
	}
	return false
}

// buildSources creates webhook receivers and pollers.
func (a *App) buildSources() error {
	if l := a.cfg.LeadExec; l != nil && routesFrom(a.cfg, "leadexec.lead") {
		w := l.Webhook
		a.Receiver = leadexec.NewReceiver(leadexec.Config{
			Path: w.Path, BasicUser: w.BasicUser, BasicPassword: w.BasicPassword.Value(), BearerToken: w.BearerToken.Value(),
			SuccessText: w.SuccessText, IDField: w.IDField, ChangedAtField: w.ChangedAtField, MaxBody: w.MaxBodyBytes,
		}, a.Bus, a.State, a.log.With("source", "leadexec.webhook"))
		if n := l.SafetyNet; len(n.LeadTypes) > 0 {
			sn, err := leadexec.NewSafetyNet(leadexec.SafetyNetConfig{LeadTypes: n.LeadTypes, Interval: n.Interval.Std(),
				Lookback: n.Lookback.Std(), MinAge: n.MinAge.Std(), PageSize: n.PageSize, FieldMap: n.FieldMap,
				Logger: a.log}, a.vendors.leadexec, a.Bus, a.State)
			if err != nil {
				return err
			}
			a.SafetyNet = sn
			a.Sources = append(a.Sources, sn)
		}
	}
	if routesFrom(a.cfg, "leadexec.client") {
		p, err := leadexec.NewClientPoller(leadexec.ClientPollerConfig{Interval: a.cfg.LeadExec.ClientPoller.Interval.Std(),
			Logger: a.log}, a.vendors.leadexec, a.Bus, a.State)
		if err != nil {
			return err
		}
		a.Sources = append(a.Sources, p)
	}
	if l := a.cfg.LeadExec; l != nil && l.FieldCheckInterval > 0 {
		if fc := leadExecFieldCheck(a.cfg); fc.Post > 0 || len(fc.Read) > 0 {
			a.Sources = append(a.Sources, &leadFieldWatch{c: a.vendors.leadexec, check: fc, cat: a.Catalog,
				fields: a.vendors.leadFields, interval: l.FieldCheckInterval.Std(), log: a.log.With("source", "leadexec.fields")})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.vendors.connected)) {
		a.Sources = append(a.Sources, a.vendors.connected[name].Sources...)
	}
	return nil
}

// buildRoutes creates one runner per configured route: the source's codec
// decodes, the target's encodes, the target's sink writes.
func (a *App) buildRoutes() error {
	for i, rc := range a.cfg.Routes {
		vendor, entity, _ := strings.Cut(rc.To, ".")
		sink := a.vendors.sinks[rc.To]
		var mapper pipeline.Mapper
		if entity == "client" {
			from, to := a.vendors.clientCodecs[rc.From], a.vendors.clientCodecs[rc.To]
			if from != nil && to != nil {
				mapper = mappings.ClientRoute{From: from, To: to}
			}
		} else if from, to := a.vendors.codecs[rc.From], a.vendors.codecs[rc.To]; from != nil && to != nil {
			mapper = mappings.LeadRoute{From: from, To: to, StatusMap: rc.StatusMap, Owners: a.cfg.Ownership}
		}
		if mapper == nil || sink == nil {
			return fmt.Errorf("routes[%d]: %s → %s: the vendors of this route are not configured", i, rc.From, rc.To)
		}
		ru, err := pipeline.NewRunner(pipeline.Route{
			Name: rc.Name, From: rc.From, To: pipeline.Target{Vendor: vendor, Entity: entity},
			Mapper: mapper, Sink: sink,
			Reverse: routesFrom(a.cfg, rc.To),
			Batch:   pipeline.BatchPolicy{MaxObjects: rc.BatchSize, Linger: rc.Linger.Std()},
			Logger:  a.log,
		}, a.Bus, a.State)
		if err != nil {
			return err
		}
		a.Runners = append(a.Runners, ru)
	}
	return nil
}
