package app

import (
	"fmt"
	"net/http"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	isrc "github.com/crmsync/crmsync/sources/ivvy"
	"github.com/crmsync/crmsync/vendors/ivvy"
)

// BackfillSources lists the sources `crmsync backfill` can page through.
var BackfillSources = []string{"ivvy.lead"}

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
		budget := pipeline.NewBudget(pipeline.BudgetConfig{Account: "ivvy:" + iv.APIKey, PerSecond: iv.RatePerSecond}, a.State)
		c, err := ivvy.New(ivvy.Config{Endpoint: iv.Endpoint, Region: iv.Region, APIKey: iv.APIKey, APISecret: iv.APISecret.Value(),
			HTTPClient: &http.Client{Timeout: iv.Timeout.Std()}, Gate: budget})
		if err != nil {
			return nil, err
		}
		return &isrc.Pager{Client: c, Since: since, Until: until}, nil
	default:
		return nil, fmt.Errorf("backfill: %q has no history pager (can backfill: %v)", source, BackfillSources)
	}
}
