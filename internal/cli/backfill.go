package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/pipeline"
)

const backfillSynopsis = `backfill --config FILE --source VENDOR.ENTITY [--since T] [--until T]

Pages through a source's history into the event stream as backfill events,
saving its place after every page. Run it again after a stop and it resumes
where it was; a finished run says so and does nothing. Routes from the
source (in a running 'crmsync run') write backfill events only when live
events leave room, and backfills never spend the vendor quota reserve kept
for live sync: when their budget is spent they stop and say when to resume
(exit status 3). Times are RFC 3339.

Sources:
  getlead.lead        Getlead leads (V3 list), by creation time from a
                      created_at watermark plus the ids seen at it;
                      --since/--until select by creation time.
  ivvy.lead           iVvy leads; --since/--until select by modification time.
  leadexec.client     one snapshot of LeadExec's clients, paged by ClientUID;
                      --since/--until select by DateAdded.
  leadexec.lead       LeadExec leads of every leadexec.safety_net.lead_types
                      entry (lead data API), by DateAdded; --since/--until
                      select by DateAdded. Without --until the run ends at
                      its start minus one minute.
  sharpspring.client  one snapshot of SharpSpring's agency clients, paged by
                      client id; --since/--until are refused (SharpSpring
                      keeps no time for clients).
  sharpspring.lead    SharpSpring's active leads, paged by creation time, so
                      leads created or changed during the run shift nothing;
                      --since/--until select by creation time (later changes
                      are the live poller's). Without --until the run ends at
                      now minus the poller lag.

Every pager but ivvy.lead (a record offset) keeps its place by a key (a
time plus the ids seen at it, or an id), so records added during the run
shift nothing.
Backfills leave 10% of SharpSpring's daily quota to live sync.`

func runBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backfill", backfillSynopsis, stderr)
	path := fs.String("config", "crmsync.yaml", "config file of the instance")
	source := fs.String("source", "", "source to backfill, one of "+strings.Join(app.BackfillSources(), ", ")+" (required)")
	sinceS := fs.String("since", "", "only records at or after this time (the time each source selects by: see Sources)")
	untilS := fs.String("until", "", "only records at or before this time (the time each source selects by: see Sources)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *source == "" {
		return usageError(fs, stderr, "backfill: --source is required")
	}
	var since, until time.Time
	if !timeWindow(stderr, "backfill", *sinceS, *untilS, &since, &until) {
		return 2
	}
	off, code := openOffline(ctx, *path, stderr)
	if off == nil {
		return code
	}
	defer off.Close()
	pager, err := off.app.BackfillPager(*source, since, until)
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return 2
	}
	bf := &pipeline.Backfill{Source: *source, Since: *sinceS, Until: *untilS, Pager: pager, Publisher: off.bus, State: off.app.State}
	bf.Progress = newProgress(stderr)
	p, err := bf.Run(ctx)
	switch {
	case errors.Is(err, pipeline.ErrBackfillDone):
		fmt.Fprintf(stdout, "backfill %s: already finished (%d records in %d pages); nothing to do\n", *source, p.Published, p.Pages)
		return 0
	case err != nil:
		if q, ok := pipeline.IsQuota(err); ok {
			fmt.Fprintf(stdout, "backfill %s: paused after %d records: the backfill budget of %s is spent; run again after %s to resume\n",
				*source, p.Published, q.Account, q.ResetAt.Format(time.RFC3339))
			return 3
		}
		if ctx.Err() != nil {
			fmt.Fprintf(stdout, "backfill %s: stopped after %d records in %d pages; run again to resume\n", *source, p.Published, p.Pages)
			return 130
		}
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "backfill %s: done: %d records in %d pages\n", *source, p.Published, p.Pages)
	return 0
}

// newProgress reports progress as a bar on a terminal, as a plain line every
// few seconds otherwise.
func newProgress(w io.Writer) func(pipeline.BackfillProgress) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		var bar *progressbar.ProgressBar
		return func(p pipeline.BackfillProgress) {
			if bar == nil {
				bar = progressbar.NewOptions64(p.Total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("backfill"),
					progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"),
					progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
					progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
			}
			bar.Set64(p.Published)
			if p.Done {
				bar.Finish()
			}
		}
	}
	start, last := time.Now(), time.Time{}
	var first int64 = -1
	return func(p pipeline.BackfillProgress) {
		if first < 0 {
			first = p.Published
		}
		if !p.Done && time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		rate := float64(p.Published-first) / max(time.Since(start).Seconds(), 0.001)
		eta := "unknown"
		if p.Total > 0 && rate > 0 && p.Published < p.Total {
			eta = (time.Duration(float64(p.Total-p.Published) / rate * float64(time.Second))).Round(time.Second).String()
		}
		total := "?"
		if p.Total >= 0 {
			total = fmt.Sprint(p.Total)
		}
		fmt.Fprintf(w, "backfill: %d/%s records, %d pages, %.0f records/s, ETA %s\n", p.Published, total, p.Pages, rate, eta)
	}
}
