package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	gsink "github.com/crmsync/crmsync/sinks/getlead"
	isink "github.com/crmsync/crmsync/sinks/ivvy"
	ksink "github.com/crmsync/crmsync/sinks/kafka"
	lesink "github.com/crmsync/crmsync/sinks/leadexec"
	ssink "github.com/crmsync/crmsync/sinks/sharpspring"
	gsrc "github.com/crmsync/crmsync/sources/getlead"
	isrc "github.com/crmsync/crmsync/sources/ivvy"
	"github.com/crmsync/crmsync/sources/leadexec"
	ssrc "github.com/crmsync/crmsync/sources/sharpspring"
	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/getlead"
	"github.com/crmsync/crmsync/vendors/ivvy"
	levendor "github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// vendorSet holds the configured vendor accounts: API clients, codecs and
// sinks by "<vendor>.<entity>".
type vendorSet struct {
	sharpspring  *sharpspring.Client
	ivvy         *ivvy.Client
	getleadV3    getlead.V3Config
	leadexec     *levendor.Client
	codecs       map[string]mappings.LeadCodec
	clientCodecs map[string]mappings.ClientCodec
	sinks        map[string]pipeline.Sink
	budgets      []*pipeline.Budget
	// closers release what the vendors hold open (Kafka writers).
	closers []io.Closer
	// leadFields holds the fields of the LeadExec lead type crmsync posts
	// to; the lead sink posts by it and the field watch refreshes it.
	leadFields *levendor.LeadTypeFields
}

func openVendors(ctx context.Context, cfg *config.Config, cat *mappings.Catalog, state pipeline.State, log *slog.Logger) (*vendorSet, error) {
	v := &vendorSet{codecs: map[string]mappings.LeadCodec{}, clientCodecs: map[string]mappings.ClientCodec{}, sinks: map[string]pipeline.Sink{}}
	v.codecs["leadexec.lead"] = mappings.LeadExecLeads{Catalog: cat}
	if s := cfg.SharpSpring; s != nil {
		bc := pipeline.BudgetConfig{Account: s.Account(), PerSecond: s.RatePerSecond, Daily: s.DailyQuota, Shared: true}
		if s.Unlimited {
			bc.PerSecond = 0
		}
		budget := pipeline.NewBudget(bc, state)
		v.budgets = append(v.budgets, budget)
		c, err := sharpspring.New(sharpspring.Config{
			Endpoint: s.Endpoint, AccountID: s.AccountID, SecretKey: s.SecretKey.Value(),
			HTTPClient: &http.Client{Timeout: s.Timeout.Std()}, Gate: budget,
		})
		if err != nil {
			return nil, err
		}
		// A passing SharpSpring failure at start-up is retried for a while;
		// a missing system name or bad credentials stop start-up at once.
		var warnings []string
		bo := backoff.WithContext(backoff.WithMaxRetries(pipeline.DefaultBackOff(), 6), ctx)
		err = backoff.Retry(func() error {
			var cerr error
			warnings, cerr = sharpspring.CheckFields(ctx, c, cat)
			if cerr != nil && (apierr.Classify(cerr) != apierr.Transient || !isAPIError(cerr)) {
				return backoff.Permanent(cerr)
			}
			return cerr
		}, bo)
		if err != nil && isQuota(err) {
			// Start anyway: the sinks and pollers pause and probe, and the
			// field watch checks the catalog once requests go through.
			log.Warn("SharpSpring's daily limit is reached: the catalog's system names are not checked at start-up; "+
				"SharpSpring routes and polls pause until requests go through again", "err", err)
			err = nil
		}
		if err != nil {
			return nil, err
		}
		for _, w := range warnings {
			log.Warn(w)
		}
		v.sharpspring = c
		v.codecs["sharpspring.lead"] = mappings.SharpSpringLeads{Catalog: cat}
		probe := s.QuotaProbeInterval.Std()
		v.sinks["sharpspring.lead"] = ssink.NewLeadSinkWithConfig(ssink.LeadSinkConfig{Logger: log, QuotaProbeInterval: probe}, c)
		v.clientCodecs["sharpspring.client"] = mappings.SharpSpringClients{}
		v.sinks["sharpspring.client"] = ssink.NewClientSink(ssink.ClientSinkConfig{Logger: log, QuotaProbeInterval: probe}, c)
	}
	if err := v.openLeadExec(ctx, cfg, cat, log); err != nil {
		return nil, err
	}
	if iv := cfg.IVvy; iv != nil {
		budget := pipeline.NewBudget(pipeline.BudgetConfig{Account: iv.Account(), PerSecond: iv.RatePerSecond, Shared: true}, state)
		v.budgets = append(v.budgets, budget)
		c, err := ivvy.New(ivvy.Config{Endpoint: iv.Endpoint, Region: iv.Region, APIKey: iv.APIKey.Value(),
			APISecret: iv.APISecret.Value(), HTTPClient: &http.Client{Timeout: iv.Timeout.Std()}, Gate: budget})
		if err != nil {
			return nil, err
		}
		d := iv.LeadDefaults
		sink, err := isink.NewLeadSink(isink.Config{Client: c, Logger: log, Identity: state, Defaults: isink.Defaults{
			Source: d.Source, Type: d.Type, Subtype: d.Subtype, Stage: d.Stage, Quality: d.Quality, Industry: d.Industry, Channel: d.Channel}})
		if err != nil {
			return nil, err
		}
		if routesTo(cfg, "ivvy.lead") {
			if err := sink.Check(ctx); err != nil {
				return nil, fmt.Errorf("ivvy: lead defaults: %w", err)
			}
		}
		v.ivvy = c
		v.codecs["ivvy.lead"] = mappings.IVvyLeads{Catalog: cat}
		v.sinks["ivvy.lead"] = sink
	}
	if g := cfg.Getlead; g != nil {
		budget := pipeline.NewBudget(pipeline.BudgetConfig{Account: g.Account(), PerSecond: g.RatePerSecond, Shared: true}, state)
		v.budgets = append(v.budgets, budget)
		hc := &http.Client{Timeout: g.Timeout.Std()}
		v.getleadV3 = getlead.V3Config{BaseURL: g.V3BaseURL, APIKey: g.APIKey.Value(), HTTPClient: hc, Gate: budget}
		sink, err := gsink.NewLeadSink(gsink.Config{Mode: g.Mode,
			Classic: getlead.ClassicConfig{BaseURL: g.BaseURL, Token: g.Token.Value(), HTTPClient: hc, Gate: budget},
			V3:      v.getleadV3, Source: g.Source, CountryCode: g.CountryCode, Ledger: state, Logger: log,
			RateLimitWait: g.RateLimitWait.Std()})
		if err != nil {
			return nil, err
		}
		v.codecs["getlead.lead"] = mappings.GetleadLeads{Catalog: cat, CountryCode: g.CountryCode}
		v.sinks["getlead.lead"] = sink
	}
	if err := v.openKafka(ctx, cfg, cat); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

// openKafka prepares the change-stream sinks of the routes to kafka.lead
// and kafka.client, creating their topics if they do not exist.
func (v *vendorSet) openKafka(ctx context.Context, cfg *config.Config, cat *mappings.Catalog) error {
	k := cfg.Kafka
	if k == nil {
		return nil
	}
	v.codecs["kafka.lead"] = mappings.CanonicalLeads{Name: "kafka", Catalog: cat}
	v.clientCodecs["kafka.client"] = mappings.CanonicalClients{Name: "kafka"}
	for _, t := range []struct{ target, entity, topic string }{
		{"kafka.lead", "lead", k.LeadTopic}, {"kafka.client", "client", k.ClientTopic},
	} {
		if !routesTo(cfg, t.target) {
			continue
		}
		s, err := ksink.New(ksink.Config{Brokers: k.Brokers, Topic: t.topic, Entity: t.entity,
			MaxMessageBytes: k.MaxMessageBytes, WriteTimeout: k.WriteTimeout.Std()})
		if err != nil {
			return err
		}
		v.closers = append(v.closers, s)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = s.CreateTopic(cctx, k.Partitions, k.Replicas)
		cancel()
		if err != nil {
			return fmt.Errorf("kafka.%s_topic: %w", t.entity, err)
		}
		v.sinks[t.target] = s
	}
	return nil
}

// close releases what the vendors hold open.
func (v *vendorSet) close() {
	for _, c := range v.closers {
		c.Close()
	}
	v.closers = nil
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

// isAPIError reports whether err came from talking to SharpSpring (as
// opposed to a missing system name found by the check itself).
func isAPIError(err error) bool {
	var e *sharpspring.Error
	return errors.As(err, &e)
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
	if routesFrom(a.cfg, "sharpspring.client") {
		p, err := ssrc.NewClientPoller(ssrc.ClientPollerConfig{Interval: a.cfg.SharpSpring.ClientPoller.Interval.Std(),
			QuotaProbeInterval: a.cfg.SharpSpring.QuotaProbeInterval.Std(), Logger: a.log}, a.vendors.sharpspring, a.Bus, a.State)
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
	if s := a.cfg.SharpSpring; s != nil && s.FieldCheckInterval > 0 {
		a.Sources = append(a.Sources, &fieldWatch{c: a.vendors.sharpspring, cat: a.Catalog,
			interval: s.FieldCheckInterval.Std(), log: a.log.With("source", "sharpspring.fields")})
	}
	if routesFrom(a.cfg, "sharpspring.lead") {
		pc := a.cfg.SharpSpring.Poller
		p, err := ssrc.NewLeadPoller(ssrc.LeadPollerConfig{Name: "sharpspring.lead", Interval: pc.Interval.Std(),
			Overlap: pc.Overlap.Std(), Lag: pc.Lag.Std(), PageSize: pc.PageSize, SweepInterval: pc.SweepInterval.Std(),
			Since: pc.Since, QuotaProbeInterval: a.cfg.SharpSpring.QuotaProbeInterval.Std(),
			Logger: a.log.With("source", "sharpspring.lead")}, a.vendors.sharpspring, a.Bus, a.State)
		if err != nil {
			return err
		}
		a.Sources = append(a.Sources, p)
	}
	if routesFrom(a.cfg, "ivvy.lead") {
		p, err := isrc.NewLeadPoller(isrc.Config{Client: a.vendors.ivvy, Publisher: a.Bus, State: a.State, Identity: a.State,
			Interval: a.cfg.IVvy.Poller.Interval.Std(), Since: a.cfg.IVvy.Poller.Since, Logger: a.log.With("source", "ivvy.lead")})
		if err != nil {
			return err
		}
		a.Sources = append(a.Sources, p)
	}
	if routesFrom(a.cfg, "getlead.lead") {
		p, err := gsrc.NewPoller(gsrc.Config{Name: "getlead.lead", V3: a.vendors.getleadV3, State: a.State, Publisher: a.Bus,
			CountryCode: a.cfg.Getlead.CountryCode, Interval: a.cfg.Getlead.Poller.Interval.Std(), StartFrom: a.cfg.Getlead.Poller.Since,
			Logger: a.log.With("source", "getlead.lead")})
		if err != nil {
			return err
		}
		a.Sources = append(a.Sources, p)
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

// isQuota reports whether err says a SharpSpring daily limit is spent:
// crmsync's own count or SharpSpring's 106.
func isQuota(err error) bool {
	_, ok := pipeline.IsQuota(err)
	return ok || apierr.Classify(err) == apierr.Quota
}
