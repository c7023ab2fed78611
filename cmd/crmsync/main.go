// Command crmsync keeps leads and clients in step across CRM and
// lead-distribution platforms. See README.md and `crmsync help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/crmsync/crmsync/internal/cli"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// gcPercent is the heap growth, in percent of the live heap, that starts a
// collection (GOGC) unless the environment sets GOGC. At Go's default, 100,
// the collector took about a quarter of a sync's CPU (the route's and the
// webhook's per-lead maps and events are short-lived). 200 spares about 5%
// of the CPU per lead (bench --only peer) and keeps the 1,000,000-lead
// backfill beside `crmsync run` under 256 MiB; 300 went past it.
const gcPercent = 200

// memLimitRatio is the share of the container's memory limit (cgroup)
// given to Go's heap as a soft limit (GOMEMLIMIT) unless the environment
// sets GOMEMLIMIT or AUTOMEMLIMIT: near it the collector runs as often as
// it must, whatever gcPercent says, so the larger heap never gets the
// process killed. The rest is left to what Go does not count: SQLite's page
// caches (up to 64 MiB) and the thread stacks.
const memLimitRatio = 0.8

// tuneGC sets the garbage collector's defaults for a crmsync process.
func tuneGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(gcPercent)
	}
	// Outside a container with a memory limit this sets nothing: there is
	// no limit to keep under.
	memlimit.Set(memlimit.WithRatio(memLimitRatio), memlimit.WithProvider(memlimit.FromCgroup)) //nolint:errcheck // see above
}
