package app

import (
	"fmt"
	"net/http"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	isrc "github.com/crmsync/crmsync/sources/ivvy"
	ssrc "github.com/crmsync/crmsync/sources/sharpspring"
	"github.com/crmsync/crmsync/vendors/ivvy"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// BackfillSources lists the sources `crmsync backfill` can page through.
var BackfillSources = []string{"ivvy.lead", "sharpspring.lead"}

// BackfillReserve is the share of a daily quota that backfills leave to
// live sync: a backfill stops (and resumes after the reset) once only this
// much of the day's quota is left.
const BackfillReserve = 0.10

// BackfillPager returns the history pager of a source. Its vendor client
// shares the account's rate limit but leaves the live reserve of the daily
// quota untouched.
func (a *App) BackfillPager(source string, since, until time.Time) (pipeline.Pager, error) {
	switch source {
	case "ivvy.lead":
		iv := a.cfg.IVvy
		if iv == nil {
			return nil, fmt.Errorf("backfill %s: the ivvy section is missing from the config", source)
		}
		budget := pipeline.NewBudget(pipeline.BudgetConfig{Account: iv.Account(), PerSecond: iv.RatePerSecond}, a.State)
		c, err := ivvy.New(ivvy.Config{Endpoint: iv.Endpoint, Region: iv.Region, APIKey: iv.APIKey.Value(), APISecret: iv.APISecret.Value(),
			HTTPClient: &http.Client{Timeout: iv.Timeout.Std()}, Gate: budget})
		if err != nil {
			return nil, err
		}
		return &isrc.Pager{Client: c, Since: since, Until: until}, nil
	case "sharpspring.lead":
		s := a.cfg.SharpSpring
		if s == nil {
			return nil, fmt.Errorf("backfill %s: the sharpspring section is missing from the config", source)
		}
		// The same account budget as the running instance's (the rate
		// window is shared through the state database), minus the reserve.
		bc := pipeline.BudgetConfig{Account: s.Account(), PerSecond: s.RatePerSecond, Daily: s.DailyQuota, Shared: true}
		if s.Unlimited {
			bc.PerSecond = 0
		}
		budget := pipeline.NewBudget(bc, a.State).WithReserve(int(float64(s.DailyQuota) * BackfillReserve))
		c, err := sharpspring.New(sharpspring.Config{Endpoint: s.Endpoint, AccountID: s.AccountID, SecretKey: s.SecretKey.Value(),
			HTTPClient: &http.Client{Timeout: s.Timeout.Std()}, Gate: budget})
		if err != nil {
			return nil, err
		}
		return &ssrc.LeadPager{API: c, Since: since, Until: until, Lag: s.Poller.Lag.Std(), Logger: a.log.With("source", source)}, nil
	default:
		return nil, fmt.Errorf("backfill: %q has no history pager (can backfill: %v)", source, BackfillSources)
	}
}
