package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	ssink "github.com/crmsync/crmsync/sinks/sharpspring"
	ssrc "github.com/crmsync/crmsync/sources/sharpspring"
	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// BackfillReserve is the share of a daily quota that history pagers
// (backfills, verify, reconciliation) leave to live sync: they stop, and
// resume after the reset, once only this much of the day's quota is left.
const BackfillReserve = 0.10

// SharpSpring: leads (date-range poller, batched upserts) and agency
// clients (snapshot poller, one write each), on the account's shared rate
// window and daily quota; the catalog's system names are checked at
// start-up and on a schedule.
func init() {
	Register(Connector{
		Vendor: config.Vendor{Name: "sharpspring", Title: "SharpSpring", Reads: []string{"lead", "client"},
			Writes: []string{"lead", "client"}, ReadBack: []string{"lead", "client"}},
		Builtin: true,
		Open:    openSharpSpring,
		Pages:   true,
	})
}

func openSharpSpring(ctx context.Context, env Env) (*Account, error) {
	s := env.Section.(*config.SharpSpringConfig)
	// One budget for every request of the account in this process; a
	// history pager's view of it leaves the live reserve of the daily
	// quota untouched.
	bc := pipeline.BudgetConfig{Account: s.Account(), PerSecond: s.RatePerSecond, Daily: s.DailyQuota, Shared: true}
	if s.Unlimited {
		bc.PerSecond = 0
	}
	budget := pipeline.NewBudget(bc, env.State)
	client := func(gate *pipeline.Budget) (*sharpspring.Client, error) {
		return sharpspring.New(sharpspring.Config{Endpoint: s.Endpoint, AccountID: s.AccountID, SecretKey: s.SecretKey.Value(),
			HTTPClient: &http.Client{Timeout: s.Timeout.Std()}, Gate: gate})
	}
	c, err := client(budget)
	if err != nil {
		return nil, err
	}
	// The custom lead fields' types, read with the catalog check at
	// start-up and on every scheduled check: the sink converts values to
	// them, dates and times in the endpoint's zone.
	zone := s.Zone()
	types := sharpspring.NewFieldTypes(zone)
	if err := checkFieldsAtStart(ctx, env, c, types); err != nil {
		return nil, err
	}
	probe := s.QuotaProbeInterval.Std()
	acc := &Account{
		LeadCodec:   mappings.SharpSpringLeads{Catalog: env.Catalog, Values: types},
		ClientCodec: mappings.SharpSpringClients{},
		Sinks: map[string]pipeline.Sink{
			"lead": ssink.NewLeadSinkWithConfig(ssink.LeadSinkConfig{Logger: env.Log, QuotaProbeInterval: probe,
				Types: types}, c),
			"client": ssink.NewClientSink(ssink.ClientSinkConfig{Logger: env.Log, QuotaProbeInterval: probe}, c),
		},
		Budgets: []*pipeline.Budget{budget},
		Stats:   c.Stats,
		Pager: func(entity string, since, until time.Time) (pipeline.Pager, error) {
			if entity == "client" && (!since.IsZero() || !until.IsZero()) {
				return nil, errors.New("--since/--until cannot be used: SharpSpring keeps no creation or change time " +
					"for clients, so the backfill always publishes every active client")
			}
			c, err := client(budget.WithReserve(int(float64(s.DailyQuota) * BackfillReserve)))
			if err != nil {
				return nil, err
			}
			if entity == "client" {
				return &ssrc.ClientPager{API: c}, nil
			}
			return &ssrc.LeadPager{API: c, Since: since, Until: until, Lag: s.Poller.Lag.Std(), Zone: zone,
				Logger: env.Log.With("source", "sharpspring."+entity)}, nil
		},
	}
	if env.Bus == nil {
		return acc, nil
	}
	if env.Reads("sharpspring", "client") {
		p, err := ssrc.NewClientPoller(ssrc.ClientPollerConfig{Interval: s.ClientPoller.Interval.Std(),
			QuotaProbeInterval: probe, Logger: env.Log}, c, env.Bus, env.State)
		if err != nil {
			return nil, err
		}
		acc.Sources = append(acc.Sources, p)
	}
	if s.FieldCheckInterval > 0 {
		acc.Sources = append(acc.Sources, &fieldWatch{c: c, cat: env.Catalog, types: types,
			interval: s.FieldCheckInterval.Std(), log: env.Log.With("source", "sharpspring.fields")})
	}
	if env.Reads("sharpspring", "lead") {
		pc := s.Poller
		p, err := ssrc.NewLeadPoller(ssrc.LeadPollerConfig{Name: "sharpspring.lead", Interval: pc.Interval.Std(),
			Overlap: pc.Overlap.Std(), Lag: pc.Lag.Std(), PageSize: pc.PageSize, SweepInterval: pc.SweepInterval.Std(),
			Since: pc.Since, Zone: zone, QuotaProbeInterval: probe, Logger: env.Log}, c, env.Bus, env.State)
		if err != nil {
			return nil, err
		}
		acc.Sources = append(acc.Sources, p)
	}
	return acc, nil
}

// checkFieldsAtStart checks the catalog's system names against getFields.
// A passing SharpSpring failure is retried for a while; a missing system
// name or bad credentials stop start-up at once. With the daily limit
// reached, start-up goes on: sinks and pollers pause and probe, and the
// field watch checks once requests go through.
func checkFieldsAtStart(ctx context.Context, env Env, c *sharpspring.Client, types *sharpspring.FieldTypes) error {
	var warnings []string
	bo := backoff.WithContext(backoff.WithMaxRetries(pipeline.DefaultBackOff(), 6), ctx)
	err := backoff.Retry(func() error {
		var cerr error
		warnings, cerr = sharpspring.CheckFields(ctx, c, env.Catalog, types)
		if cerr != nil && (apierr.Classify(cerr) != apierr.Transient || !isAPIError(cerr)) {
			return backoff.Permanent(cerr)
		}
		return cerr
	}, bo)
	if err != nil && isQuota(err) {
		env.Log.Warn("SharpSpring's daily limit is reached: the catalog's system names are not checked at start-up; "+
			"SharpSpring routes and polls pause until requests go through again", "err", err)
		err = nil
	}
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	for _, w := range warnings {
		env.Log.Warn(w)
	}
	return nil
}

// isAPIError reports whether err came from talking to SharpSpring (as
// opposed to a missing system name found by the check itself).
func isAPIError(err error) bool {
	var e *sharpspring.Error
	return errors.As(err, &e)
}

// isQuota reports whether err says a SharpSpring daily limit is spent:
// crmsync's own count or SharpSpring's 106.
func isQuota(err error) bool {
	_, ok := pipeline.IsQuota(err)
	return ok || apierr.Classify(err) == apierr.Quota
}
