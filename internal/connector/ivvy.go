package connector

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	isink "github.com/crmsync/crmsync/sinks/ivvy"
	isrc "github.com/crmsync/crmsync/sources/ivvy"
	"github.com/crmsync/crmsync/vendors/ivvy"
)

// iVvy: leads, read by the modified-date poller and written by the lead
// sink (the contact and the lead behind it), both on the account's shared
// rate window.
func init() {
	Register(Connector{
		Vendor: config.Vendor{Name: "ivvy", Title: "iVvy", Reads: []string{"lead"}, Writes: []string{"lead"},
			ReadBack: []string{"lead"}},
		Builtin: true,
		Open:    openIVvy,
		Pages:   true,
	})
}

func openIVvy(ctx context.Context, env Env) (*Account, error) {
	iv := env.Section.(*config.IVvyConfig)
	// One budget for every request of the account in this process.
	budget := pipeline.NewBudget(pipeline.BudgetConfig{Account: iv.Account(), PerSecond: iv.RatePerSecond, Shared: true}, env.State)
	client := func() (*ivvy.Client, error) {
		return ivvy.New(ivvy.Config{Endpoint: iv.Endpoint, Region: iv.Region, APIKey: iv.APIKey.Value(),
			APISecret: iv.APISecret.Value(), HTTPClient: &http.Client{Timeout: iv.Timeout.Std()}, Gate: budget})
	}
	c, err := client()
	if err != nil {
		return nil, err
	}
	d := iv.LeadDefaults
	sink, err := isink.NewLeadSink(isink.Config{Client: c, Logger: env.Log, Identity: env.State, Defaults: isink.Defaults{
		Source: d.Source, Type: d.Type, Subtype: d.Subtype, Stage: d.Stage, Quality: d.Quality, Industry: d.Industry, Channel: d.Channel}})
	if err != nil {
		return nil, err
	}
	if env.Writes("ivvy", "lead") {
		if err := sink.Check(ctx); err != nil {
			return nil, fmt.Errorf("lead defaults: %w", err)
		}
	}
	acc := &Account{
		LeadCodec: mappings.IVvyLeads{Catalog: env.Catalog},
		Sinks:     map[string]pipeline.Sink{"lead": sink},
		Budgets:   []*pipeline.Budget{budget},
		// A history pager has a client of its own on the same budget.
		Pager: func(_ string, since, until time.Time) (pipeline.Pager, error) {
			c, err := client()
			if err != nil {
				return nil, err
			}
			return &isrc.Pager{Client: c, Since: since, Until: until}, nil
		},
	}
	if env.Bus != nil && env.Reads("ivvy", "lead") {
		p, err := isrc.NewLeadPoller(isrc.Config{Client: c, Publisher: env.Bus, State: env.State, Identity: env.State,
			Interval: iv.Poller.Interval.Std(), Since: iv.Poller.Since, Logger: env.Log})
		if err != nil {
			return nil, err
		}
		acc.Sources = append(acc.Sources, p)
	}
	return acc, nil
}
