package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/pipeline"
)

const dlqSynopsis = `dlq list|retry --config FILE [--route NAME] [--code CODE] [--id N] [--status S] [--payload]

list   shows dead letters: id, route, vendor code and message, attempts, status, payload.
retry  sends open dead letters through their route again (after a mapping or data
       fix): written ones become "resolved", failing ones "retried" with a new entry
       holding the new failure. Entries are never deleted.`

func runDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "retry") {
		fmt.Fprintln(stderr, "Usage: crmsync "+dlqSynopsis)
		return 2
	}
	verb := args[0]
	fs := newFlagSet("dlq "+verb, dlqSynopsis, stderr)
	path := fs.String("config", "crmsync.yaml", "config file of the instance")
	route := fs.String("route", "", "only this route")
	code := fs.String("code", "", "only this vendor code (e.g. 205)")
	id := fs.Int64("id", 0, "only this dead letter")
	status := fs.String("status", "open", "list: open, retried, resolved or all")
	payload := fs.Bool("payload", false, "list: print each payload in full")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	cfg := loadConfig(*path, stderr)
	if cfg == nil {
		return 1
	}
	filter := pipeline.DeadLetterFilter{ID: *id, Route: *route, Code: *code, Status: *status}
	if filter.Status == "all" {
		filter.Status = ""
	}
	if verb == "list" {
		return dlqList(ctx, cfg, filter, *payload, stdout, stderr)
	}
	filter.Status = pipeline.DeadLetterOpen
	return dlqRetry(ctx, cfg, filter, stdout, stderr)
}

func dlqList(ctx context.Context, cfg *config.Config, f pipeline.DeadLetterFilter, full bool, stdout, stderr io.Writer) int {
	store, release, err := app.OpenStateAlone(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return 1
	}
	defer release() // read only: nothing to lose
	dls, err := store.DeadLetters(ctx, f)
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROUTE\tCODE\tATTEMPTS\tSTATUS\tCREATED\tMESSAGE\tPAYLOAD")
	for _, d := range dls {
		p := string(d.Payload)
		if !full && len(p) > 80 {
			p = p[:80] + "…"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", d.ID, d.Route, d.Code, d.Attempts, d.Status,
			d.CreatedAt.Format(time.RFC3339), d.Message, p)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d dead letter(s)\n", len(dls))
	return 0
}

func dlqRetry(ctx context.Context, cfg *config.Config, f pipeline.DeadLetterFilter, stdout, stderr io.Writer) int {
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	a, err := app.NewOffline(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return 1
	}
	defer a.Close()
	results, err := a.RetryDeadLetters(ctx, f)
	resolved, failed := 0, 0
	for _, r := range results {
		switch {
		case r.Err != nil:
			failed++
			fmt.Fprintf(stdout, "dead letter %d: not retried: %v\n", r.ID, r.Err)
		case r.Resolved:
			resolved++
			fmt.Fprintf(stdout, "dead letter %d: resolved (%d written, %d already up to date)\n", r.ID, r.Written, r.Skipped)
		default:
			failed++
			fmt.Fprintf(stdout, "dead letter %d: failed again, see dead letter(s) %v\n", r.ID, r.NewIDs)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "dlq retry: %d resolved, %d still failing, of %d\n", resolved, failed, len(results))
	if failed > 0 {
		return 1
	}
	return 0
}
