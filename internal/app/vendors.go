package app

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/connector"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
)

// vendorSet holds the configured vendor accounts: API clients, codecs and
// sinks by "<vendor>.<entity>".
type vendorSet struct {
	codecs       map[string]mappings.LeadCodec
	clientCodecs map[string]mappings.ClientCodec
	sinks        map[string]pipeline.Sink
	budgets      []*pipeline.Budget
	// connected are the accounts opened by their connectors.
	connected connector.Opened
}

// openVendors opens every configured vendor account. bus is nil in an
// offline process, which builds no sources.
func openVendors(ctx context.Context, cfg *config.Config, cat *mappings.Catalog, state pipeline.State, bus pipeline.Publisher, log *slog.Logger) (*vendorSet, error) {
	v := &vendorSet{codecs: map[string]mappings.LeadCodec{}, clientCodecs: map[string]mappings.ClientCodec{}, sinks: map[string]pipeline.Sink{}}
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

// webhooks lists the webhook receivers of every opened account.
func (v *vendorSet) webhooks() []connector.Webhook {
	var out []connector.Webhook
	for _, name := range slices.Sorted(maps.Keys(v.connected)) {
		out = append(out, v.connected[name].Webhooks...)
	}
	return out
}

// close releases what the vendors hold open.
func (v *vendorSet) close() {
	if err := v.connected.Close(); err != nil {
		slog.Warn("closing a vendor account", "err", err)
	}
	v.connected = nil
}

func routesFrom(cfg *config.Config, source string) bool {
	for _, r := range cfg.Routes {
		if r.From == source {
			return true
		}
	}
	return false
}

// buildSources takes in the pollers and webhook receivers of every
// opened account.
func (a *App) buildSources() error {
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
			Batch:   pipeline.BatchPolicy{MaxObjects: rc.BatchSize, Linger: rc.Linger.Std(), InFlight: rc.BatchesInFlight},
			Logger:  a.log,
		}, a.Bus, a.State)
		if err != nil {
			return err
		}
		a.Runners = append(a.Runners, ru)
	}
	return nil
}
