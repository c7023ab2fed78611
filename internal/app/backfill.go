package app

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/connector"
	"github.com/crmsync/crmsync/pipeline"
)

// BackfillSources lists the sources `crmsync backfill` can page through:
// those of the connectors that give a history pager.
func BackfillSources() []string {
	var out []string
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
	vendor, entity, _ := strings.Cut(source, ".")
	c, ok := connector.Lookup(vendor)
	if !ok || !c.Pages || !slices.Contains(c.Reads, entity) {
		return nil, fmt.Errorf("backfill: %q has no history pager (can backfill: %v)", source, BackfillSources())
	}
	acc := a.vendors.connected[vendor]
	if acc == nil {
		return nil, fmt.Errorf("backfill %s: the %s section is missing from the config", source, vendor)
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
