// Package cli implements crmsync's commands, one file per command.
package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/config"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run every configured source and route until stopped", runRun},
		{"demo", "run the whole pipeline on embedded defaults against the simulators and verify the result", runDemo},
		{"chaos", "the crash test: run 'crmsync run' as a child, SIGKILL it again and again, verify every target", runChaos},
		{"sim", "serve simulators of all four vendors and write a config that 'crmsync run' uses", runSim},
		{"status", "show sources' cursors, routes' lag, backlog and dead letters, and quota used today", runStatus},
		{"dlq", "list or retry dead letters (dlq list|retry)", runDLQ},
		{"backfill", "page a source's history into the stream (resumable, with progress)", runBackfill},
		{"replay", "re-run a route from a stream position, time or checkpoint (--dry-run shows the changes)", runReplay},
		{"checkpoint", "checkpoint save NAME: name the bus's current end, to replay from", runCheckpoint},
		{"verify", "compare a route's whole source with its target, field by field, and print what drifted (writes nothing)", runVerify},
		{"config", "config check --config FILE: validate a config file and print every problem", runConfig},
		{"bench", "measure throughput, latency, memory and state size on this machine and print the table", runBench},
	}
}

const usageHead = `crmsync keeps leads and clients in step across SharpSpring, LeadExec, iVvy and Getlead.

Usage:
  crmsync <command> [flags]

Commands:
`

func usage(w io.Writer) {
	io.WriteString(w, usageHead)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	io.WriteString(w, "\nRun 'crmsync <command> --help' for a command's flags.\n")
}

// Run runs one command and returns the process exit code. Only main handles
// signals: ctx is cancelled on SIGINT/SIGTERM.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "crmsync: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// newFlagSet returns a flag set that prints its usage to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: crmsync %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns (exit code, false) when the command
// should stop (help asked for, or a bad flag).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

// loadConfig loads the config at path. On failure it reports to stderr and
// returns nil.
func loadConfig(path string, stderr io.Writer) *config.Config {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: %s: %v\n", path, err)
		return nil
	}
	return cfg
}

// timeFlag parses the RFC 3339 value v of the flag --name into *t; "" leaves
// *t as it is. A malformed value is reported to stderr, prefixed with cmd,
// and timeFlag returns false.
func timeFlag(stderr io.Writer, cmd, name, v string, t *time.Time) bool {
	if v == "" {
		return true
	}
	parsed, err := time.Parse(time.RFC3339, v)
	if err != nil {
		fmt.Fprintf(stderr, "%s: --%s: %v\n", cmd, name, err)
		return false
	}
	*t = parsed
	return true
}

// timeWindow parses the RFC 3339 values of --since and --until into *since
// and *until, as timeFlag does each.
func timeWindow(stderr io.Writer, cmd, sinceV, untilV string, since, until *time.Time) bool {
	return timeFlag(stderr, cmd, "since", sinceV, since) && timeFlag(stderr, cmd, "until", untilV, until)
}

// usageError reports a missing or conflicting flag, prints the command's
// usage and returns the exit code of a usage error.
func usageError(fs *flag.FlagSet, stderr io.Writer, msg string) int {
	fmt.Fprintln(stderr, msg)
	fs.Usage()
	return 2
}

// writeJSON prints v to w as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
