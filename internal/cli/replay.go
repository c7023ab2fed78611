package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/pipeline"
)

const replaySynopsis = `replay --config FILE --route NAME (--from-seq N | --since T | --checkpoint NAME)
               [--until T] [--entity-id ID] [--dry-run]

Re-runs a route's map and sink over the stream from a position, up to the
stream's end when the replay starts. Each target record is read first and
only the fields that differ from what the target holds are written, so a
replay over history that is already in place writes nothing. --dry-run
prints, per record, the fields that would change, and writes nothing.
Times are RFC 3339 (2026-11-23T10:00:00Z). Works beside a running instance.`

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("replay", replaySynopsis, stderr)
	path := fs.String("config", "crmsync.yaml", "config file of the instance")
	route := fs.String("route", "", "route to replay (required)")
	fromSeq := fs.Uint64("from-seq", 0, "stream sequence to start at (1 = the beginning)")
	since := fs.String("since", "", "start with the events stored since this time")
	checkpoint := fs.String("checkpoint", "", "start after this named checkpoint (crmsync checkpoint save)")
	until := fs.String("until", "", "skip events changed after this time")
	entity := fs.String("entity-id", "", "only this source record id")
	dry := fs.Bool("dry-run", false, "print what would change; write nothing")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	starts := 0
	for _, set := range []bool{*fromSeq > 0, *since != "", *checkpoint != ""} {
		if set {
			starts++
		}
	}
	if *route == "" || starts != 1 {
		return usageError(fs, stderr, "replay: --route and exactly one of --from-seq, --since, --checkpoint are required")
	}
	o := app.ReplayOptions{Route: *route, FromSeq: *fromSeq, Checkpoint: *checkpoint, EntityID: *entity, DryRun: *dry}
	if !timeWindow(stderr, "replay", *since, *until, &o.Since, &o.Until) {
		return 2
	}
	off, code := openOffline(ctx, *path, stderr)
	if off == nil {
		return code
	}
	defer off.Close()
	o.OnBatch = func(res pipeline.ReplayResult) { printDiffs(stdout, res.Diffs, *dry) }
	sum, err := off.app.Replay(ctx, off.bus, o)
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: replay: %v\n", err)
		return 1
	}
	mode := "written"
	if *dry {
		mode = "dry run, nothing written"
	}
	fmt.Fprintf(stdout, "replay: route=%s events=%d records=%d changed=%d written=%d dlq=%d (%s)\n",
		*route, sum.Events, sum.Records, sum.Changed, sum.Written, sum.Dead, mode)
	return 0
}

func printDiffs(w io.Writer, diffs []pipeline.Diff, dry bool) {
	verb := "changes"
	if dry {
		verb = "would change"
	}
	for _, d := range diffs {
		id := d.TargetID
		if d.Missing {
			id = "(missing in target)"
		}
		fmt.Fprintf(w, "record %s target %s %s:\n", d.Key, id, verb)
		for _, f := range slices.Sorted(maps.Keys(d.Fields)) {
			fmt.Fprintf(w, "  %s: %q → %q\n", f, d.Fields[f][0], d.Fields[f][1])
		}
	}
}

func runCheckpoint(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 || args[0] != "save" {
		fmt.Fprintln(stderr, "Usage: crmsync checkpoint save NAME --config FILE")
		return 2
	}
	fs := newFlagSet("checkpoint save", "checkpoint save NAME --config FILE\n\nNames the bus's current end, to replay from later with --checkpoint NAME:\nthe stream sequence on NATS, every crm.* topic's partition offsets on Kafka.", stderr)
	path := fs.String("config", "crmsync.yaml", "config file of the instance")
	rest := args[1:]
	name := ""
	if len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
		name, rest = rest[0], rest[1:]
	}
	if code, ok := parseFlags(fs, rest); !ok {
		return code
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		fmt.Fprintln(stderr, "checkpoint save: NAME is required")
		return 2
	}
	off, code := openOffline(ctx, *path, stderr)
	if off == nil {
		return code
	}
	defer off.Close()
	pos, err := off.app.SaveCheckpoint(ctx, off.bus, name)
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "checkpoint %q saved at %s\n", name, pos)
	return 0
}
