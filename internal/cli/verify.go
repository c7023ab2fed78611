package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/crmsync/crmsync/internal/app"
)

const verifySynopsis = `verify --config FILE --route NAME [--since T] [--until T] [--json]

Compares every record of a route's source with what the route's target
holds now, field by field, and prints each record that differs: fields whose
target value is not what the route makes of the source, and records the
target does not have. Nothing is written, not to the target and not to the
state. The source is paged as 'crmsync backfill' pages it (--since/--until
select the same records), within the account's rate window and outside the
live quota reserve; the target is read through its API, one read per batch.
A field whose newest change crmsync knows of is newer than the source record
(an edit made in the target, on its way back) is not counted.

Exit status: 0 when the target is in step with the source, 3 when records
differ, 1 when the comparison could not be made, 2 for bad usage. Routes
reconcile on their own with 'reconcile: {interval: ...}' in the config,
which repairs what still differs after a grace period. Times are RFC 3339.`

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("verify", verifySynopsis, stderr)
	path := fs.String("config", "crmsync.yaml", "config file of the instance")
	route := fs.String("route", "", "route to verify (required)")
	since := fs.String("since", "", "only source records from this time on (as backfill selects them)")
	until := fs.String("until", "", "only source records up to this time")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *route == "" {
		return usageError(fs, stderr, "verify: --route is required")
	}
	o := app.VerifyOptions{Route: *route}
	if !timeWindow(stderr, "verify", *since, *until, &o.Since, &o.Until) {
		return 2
	}
	off, code := openOffline(ctx, *path, stderr)
	if off == nil {
		return code
	}
	defer off.Close()
	o.OnPage = func(p app.VerifyProgress) {
		fmt.Fprintf(stderr, "verify: %d records compared in %d pages, %d differ\n", p.Records, p.Pages, p.Drifted)
	}
	d, err := off.app.Verify(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return 1
	}
	if *asJSON {
		if err := writeJSON(stdout, map[string]any{"route": *route, "compared": d.Records, "pages": d.Pages,
			"differ": len(d.Diffs), "missing": d.Missing(), "records": d.Diffs}); err != nil {
			fmt.Fprintf(stderr, "crmsync: %v\n", err)
			return 1
		}
	} else {
		for _, x := range d.Diffs {
			if x.Missing {
				fmt.Fprintf(stdout, "record %s: missing in the target\n", x.Key)
			} else {
				fmt.Fprintf(stdout, "record %s (target %s) differs:\n", x.Key, x.TargetID)
			}
			for _, f := range slices.Sorted(maps.Keys(x.Fields)) {
				fmt.Fprintf(stdout, "  %s: target %q, source %q\n", f, x.Fields[f][0], x.Fields[f][1])
			}
		}
		fmt.Fprintf(stdout, "verify: route=%s compared=%d pages=%d differ=%d missing=%d\n",
			*route, d.Records, d.Pages, len(d.Diffs), d.Missing())
	}
	if len(d.Diffs) > 0 {
		return 3
	}
	return 0
}
