package connector

import (
	"context"
	"fmt"
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
		Builtin: func(c *config.Config) config.Section { return section(c.Getlead) },
		Open:    openGetlead,
		Pages:   true,
	})
}

func openGetlead(_ context.Context, env Env) (*Account, error) {
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
			budget := pipeline.NewBudget(pipeline.BudgetConfig{Account: g.Account(), PerSecond: g.RatePerSecond, Shared: true}, env.State)
			api, err := getlead.NewV3(getlead.V3Config{BaseURL: g.V3BaseURL, APIKey: g.APIKey.Value(),
				HTTPClient: &http.Client{Timeout: g.Timeout.Std()}, Gate: budget})
			if err != nil {
				return nil, err
			}
			return &gsrc.LeadPager{API: api, CountryCode: g.CountryCode, Since: since, Until: until}, nil
		},
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
