package connector

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	gsink "github.com/crmsync/crmsync/sinks/getlead"
	gsrc "github.com/crmsync/crmsync/sources/getlead"
	"github.com/crmsync/crmsync/vendors/getlead"
)

// Getlead CRM: leads, written through the classic token API or V3 and read
// by the V3 poller, on the account's shared rate window.
func init() {
	Register(Connector{
		Vendor: config.Vendor{Name: "getlead", Title: "Getlead", Reads: []string{"lead"}, Writes: []string{"lead"},
			ReadBack: []string{"lead"}},
		Builtin: true,
		Open:    openGetlead,
		Pages:   true,
	})
}

func openGetlead(ctx context.Context, env Env) (*Account, error) {
	g := env.Section.(*config.GetleadConfig)
	budget := pipeline.NewBudget(pipeline.BudgetConfig{Account: g.Account(), PerSecond: g.RatePerSecond, Shared: true}, env.State)
	hc := &http.Client{Timeout: g.Timeout.Std()}
	v3 := getlead.V3Config{BaseURL: g.V3BaseURL, APIKey: g.APIKey.Value(), HTTPClient: hc, Gate: budget}
	sink, err := gsink.NewLeadSink(gsink.Config{Mode: g.Mode,
		Classic: getlead.ClassicConfig{BaseURL: g.BaseURL, Token: g.Token.Value(), HTTPClient: hc, Gate: budget},
		V3:      v3, Source: g.Source, CountryCode: g.CountryCode, Ledger: env.State, Logger: env.Log,
		RateLimitWait: g.RateLimitWait.Std()})
	if err != nil {
		return nil, err
	}
	acc := &Account{
		LeadCodec: mappings.GetleadLeads{Catalog: env.Catalog, CountryCode: g.CountryCode},
		Sinks:     map[string]pipeline.Sink{"lead": sink},
		Budgets:   []*pipeline.Budget{budget},
		Pager: func(_ string, since, until time.Time) (pipeline.Pager, error) {
			if g.APIKey.Value() == "" {
				return nil, fmt.Errorf("getlead.api_key (the V3 ik_ key) is needed to read Getlead's leads")
			}
			api, err := getlead.NewV3(getlead.V3Config{BaseURL: g.V3BaseURL, APIKey: g.APIKey.Value(),
				HTTPClient: &http.Client{Timeout: g.Timeout.Std()}, Gate: budget})
			if err != nil {
				return nil, err
			}
			return &gsrc.LeadPager{API: api, CountryCode: g.CountryCode, Since: since, Until: until}, nil
		},
	}
	if env.Bus != nil && g.Mode == gsink.ModeV3 && env.Writes("getlead", "lead") {
		// V3 writes custom field values as their field's type from /meta:
		// read at start-up, and again on a schedule.
		fw := &getleadFieldWatch{sink: sink, keys: getleadKeys(env.Catalog), interval: g.FieldCheckInterval.Std(),
			log: env.Log.With("source", "getlead.fields")}
		fw.report(sink.LoadFields(ctx, fw.keys))
		if fw.interval > 0 {
			acc.Sources = append(acc.Sources, fw)
		}
	}
	if env.Bus != nil && env.Reads("getlead", "lead") {
		p, err := gsrc.NewPoller(gsrc.Config{Name: "getlead.lead", V3: v3, State: env.State, Publisher: env.Bus,
			CountryCode: g.CountryCode, Interval: g.Poller.Interval.Std(), StartFrom: g.Poller.Since,
			Logger: env.Log})
		if err != nil {
			return nil, err
		}
		acc.Sources = append(acc.Sources, p)
	}
	return acc, nil
}

// getleadFieldWatch reads Getlead's custom fields (GET /meta) again on a
// schedule, so that a field added or retyped in Getlead is written as its
// type without a restart. It is a pipeline.Source that publishes nothing.
type getleadFieldWatch struct {
	sink     *gsink.LeadSink
	keys     []string
	interval time.Duration
	log      *slog.Logger
}

func (f *getleadFieldWatch) Name() string { return "getlead.fields" }

func (f *getleadFieldWatch) Run(ctx context.Context) error {
	return Watch(ctx, f.interval, func(ctx context.Context) ([]string, error) {
		return f.sink.LoadFields(ctx, f.keys)
	}, f.report)
}

// report logs a field check's findings. A failed read keeps the types last
// read (none at start-up: the first write reads them).
func (f *getleadFieldWatch) report(warnings []string, err error) {
	if err != nil {
		f.log.Warn("Getlead custom fields (GET /meta) could not be read; writes use the types last read and read them when none were", "err", err)
	}
	for _, w := range warnings {
		f.log.Warn(w)
	}
}

// getleadKeys are the catalog's Getlead additional-field keys.
func getleadKeys(cat *mappings.Catalog) []string {
	if cat == nil {
		return nil
	}
	var keys []string
	for _, f := range cat.Fields() {
		if f.Getlead != "" {
			keys = append(keys, f.Getlead)
		}
	}
	return keys
}
