package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	gsrc "github.com/crmsync/crmsync/sources/getlead"
	isrc "github.com/crmsync/crmsync/sources/ivvy"
	lesrc "github.com/crmsync/crmsync/sources/leadexec"
	ssrc "github.com/crmsync/crmsync/sources/sharpspring"
	"github.com/crmsync/crmsync/vendors/getlead"
	"github.com/crmsync/crmsync/vendors/ivvy"
	levendor "github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// BackfillSources lists the sources `crmsync backfill` can page through.
var BackfillSources = []string{"getlead.lead", "ivvy.lead", "leadexec.client", "leadexec.lead", "sharpspring.client", "sharpspring.lead"}

// BackfillReserve is the share of a daily quota that backfills leave to
// live sync: a backfill stops (and resumes after the reset) once only this
// much of the day's quota is left.
const BackfillReserve = 0.10

// BackfillPager returns the history pager of a source. Its vendor client
// shares the account's rate limit but leaves the live reserve of the daily
// quota untouched. Sources without a creation or change time to select by
// (sharpspring.client) refuse since and until.
func (a *App) BackfillPager(source string, since, until time.Time) (pipeline.Pager, error) {
	missing := func(section string) error {
		return fmt.Errorf("backfill %s: the %s section is missing from the config", source, section)
	}
	switch source {
	case "ivvy.lead":
		iv := a.cfg.IVvy
		if iv == nil {
			return nil, missing("ivvy")
		}
		budget := pipeline.NewBudget(pipeline.BudgetConfig{Account: iv.Account(), PerSecond: iv.RatePerSecond, Shared: true}, a.State)
		c, err := ivvy.New(ivvy.Config{Endpoint: iv.Endpoint, Region: iv.Region, APIKey: iv.APIKey.Value(), APISecret: iv.APISecret.Value(),
			HTTPClient: &http.Client{Timeout: iv.Timeout.Std()}, Gate: budget})
		if err != nil {
			return nil, err
		}
		return &isrc.Pager{Client: c, Since: since, Until: until}, nil
	case "sharpspring.lead", "sharpspring.client":
		s := a.cfg.SharpSpring
		if s == nil {
			return nil, missing("sharpspring")
		}
		if source == "sharpspring.client" && (!since.IsZero() || !until.IsZero()) {
			return nil, fmt.Errorf("backfill %s: --since/--until cannot be used: SharpSpring keeps no creation or change time "+
				"for clients, so the backfill always publishes every active client", source)
		}
		c, err := a.backfillSharpSpring()
		if err != nil {
			return nil, err
		}
		if source == "sharpspring.client" {
			return &ssrc.ClientPager{API: c}, nil
		}
		return &ssrc.LeadPager{API: c, Since: since, Until: until, Lag: s.Poller.Lag.Std(), Logger: a.log.With("source", source)}, nil
	case "getlead.lead":
		g := a.cfg.Getlead
		if g == nil {
			return nil, missing("getlead")
		}
		if g.APIKey.Value() == "" {
			return nil, fmt.Errorf("backfill %s: getlead.api_key (the V3 ik_ key) is needed to read Getlead's leads", source)
		}
		budget := pipeline.NewBudget(pipeline.BudgetConfig{Account: g.Account(), PerSecond: g.RatePerSecond, Shared: true}, a.State)
		api, err := getlead.NewV3(getlead.V3Config{BaseURL: g.V3BaseURL, APIKey: g.APIKey.Value(),
			HTTPClient: &http.Client{Timeout: g.Timeout.Std()}, Gate: budget})
		if err != nil {
			return nil, fmt.Errorf("backfill %s: %w", source, err)
		}
		return &gsrc.LeadPager{API: api, CountryCode: g.CountryCode, Since: since, Until: until}, nil
	case "leadexec.lead", "leadexec.client":
		l := a.cfg.LeadExec
		if l == nil {
			return nil, missing("leadexec")
		}
		// LeadExec documents no rate limit or quota: like the live
		// sources, the backfill's client has no budget to share.
		c, err := levendor.New(levendor.Config{APIURL: l.APIURL, LeadsURL: l.LeadsURL, DataURL: l.DataURL,
			Key: l.Key.Value(), Namespace: l.ASMXNamespace, ClientID: l.ClientID, ClientSecret: l.ClientSecret.Value(),
			HTTPClient: &http.Client{Timeout: l.Timeout.Std()}})
		if err != nil {
			return nil, fmt.Errorf("backfill %s: %w", source, err)
		}
		if source == "leadexec.client" {
			return &lesrc.ClientPager{API: c, Since: since, Until: until}, nil
		}
		n := l.SafetyNet
		if len(n.LeadTypes) == 0 {
			return nil, fmt.Errorf("backfill %s: no lead types to read: set leadexec.safety_net.lead_types "+
				"(the lead types LeadExec delivers to crmsync)", source)
		}
		// The lead types may have changed since the instance started:
		// read their fields before paging through them.
		if l.Key == "" {
			return nil, fmt.Errorf("backfill %s: %w", source, errNoLeadExecKey)
		}
		// BackfillPager takes no ctx: the check is bounded on its own.
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err = checkLeadExecFields(cctx, c, levendor.FieldCheck{Read: n.LeadTypes}, a.Catalog, nil, a.log.With("source", source))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("backfill %s: %w", source, err)
		}
		return &lesrc.LeadPager{API: c, LeadTypes: n.LeadTypes, FieldMap: n.FieldMap, PageSize: n.PageSize, Since: since, Until: until}, nil
	default:
		return nil, fmt.Errorf("backfill: %q has no history pager (can backfill: %v)", source, BackfillSources)
	}
}

// backfillSharpSpring returns a SharpSpring client on the same account
// budget as the running instance's (the rate window is shared through the
// state database), minus the live reserve of the daily quota.
func (a *App) backfillSharpSpring() (*sharpspring.Client, error) {
	s := a.cfg.SharpSpring
	bc := pipeline.BudgetConfig{Account: s.Account(), PerSecond: s.RatePerSecond, Daily: s.DailyQuota, Shared: true}
	if s.Unlimited {
		bc.PerSecond = 0
	}
	budget := pipeline.NewBudget(bc, a.State).WithReserve(int(float64(s.DailyQuota) * BackfillReserve))
	return sharpspring.New(sharpspring.Config{Endpoint: s.Endpoint, AccountID: s.AccountID, SecretKey: s.SecretKey.Value(),
		HTTPClient: &http.Client{Timeout: s.Timeout.Std()}, Gate: budget})
}
