package app

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/connector"
	"github.com/crmsync/crmsync/pipeline"
	lesrc "github.com/crmsync/crmsync/sources/leadexec"
	levendor "github.com/crmsync/crmsync/vendors/leadexec"
)

// builtinBackfill lists the sources with a history pager of the vendors
// wired here rather than by a connector.
var builtinBackfill = []string{"leadexec.client", "leadexec.lead"}

// BackfillSources lists the sources `crmsync backfill` can page through:
// the built-in vendors' and those of connectors that give a history pager.
func BackfillSources() []string {
	out := slices.Clone(builtinBackfill)
	for _, c := range connector.All() {
		if c.Pages {
			for _, e := range c.Reads {
				out = append(out, c.Name+"."+e)
			}
		}
	}
	slices.Sort(out)
	return out
}

// BackfillReserve is the share of a daily quota that backfills leave to
// live sync: a backfill stops (and resumes after the reset) once only this
// much of the day's quota is left.
const BackfillReserve = connector.BackfillReserve

// BackfillPager returns the history pager of a source. Its vendor client
// shares the account's rate limit but leaves the live reserve of the daily
// quota untouched. Sources without a creation or change time to select by
// (sharpspring.client) refuse since and until.
func (a *App) BackfillPager(source string, since, until time.Time) (pipeline.Pager, error) {
	missing := func(section string) error {
		return fmt.Errorf("backfill %s: the %s section is missing from the config", source, section)
	}
	switch source {
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
		vendor, entity, _ := strings.Cut(source, ".")
		if c, ok := connector.Lookup(vendor); ok && c.Pages && slices.Contains(c.Reads, entity) {
			acc := a.vendors.connected[vendor]
			if acc == nil {
				return nil, missing(vendor)
			}
			if acc.Pager == nil {
				return nil, fmt.Errorf("backfill %s: the %s connector opened no history pager", source, vendor)
			}
			p, err := acc.Pager(entity, since, until)
			if err != nil {
				return nil, fmt.Errorf("backfill %s: %w", source, err)
			}
			return p, nil
		}
		return nil, fmt.Errorf("backfill: %q has no history pager (can backfill: %v)", source, BackfillSources())
	}
}
