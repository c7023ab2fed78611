package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/bench"
)

const benchSynopsis = `bench [--quick] [--only NAME[,NAME...]] [--peer-dir DIR] [--backfill-leads N] [--state-leads N] [--state-dir DIR] [--cpuprofile FILE]
       [--cost-sizes N[,N...]] [--cost-edits K] [--cost-echo-leads N]
       bench --exec-rss -- COMMAND [ARGS...]

Measures crmsync on this machine and prints a Markdown table (measurement,
result, target, met?, notes) headed by the machine: OS/architecture, CPUs
and Go version. Each measurement builds its own simulators, state and
embedded NATS in a temporary directory and removes them again. Progress goes
to stderr, the table to stdout. Figures are noisy on a shared machine:
compare medians from one machine.

Rows (NAME for --only):
  e2e       End-to-end leads/s with vendor limits off: LeadExec webhook form
            posts of 20,000 leads, 16 in flight, each answered after the
            JetStream ack -> route -> SharpSpring simulator; from the first
            post to the last upsert, median of 3 runs. Notes give the CPU
            time per lead of the whole process, and what the same posts
            cost answered by a handler that only parses them (the HTTP
            floor of this machine). Target >= 50,000/s.
  peer      crmsync side by side with a Watermill pipeline doing the same
            job (webhook form posts -> JetStream -> SharpSpring createLeads,
            against the same simulator), and with an HTTP floor that only
            parses the posts: runs the comparison in
            ../shared/bench/watermillpeer (--peer-dir; run from the
            checkout's root, which it builds crmsync from), 3 rounds of
            20,000 leads (--quick: 1 round of 5,000), and prints three
            ratios of medians: leads/s crmsync/peer (target >= 1.0), CPU
            per lead crmsync/peer (target <= 1.0) and leads/s
            crmsync/floor (target >= 0.4). Without the comparison folder
            the row says "not run" (an error with --only peer).
  sink      SharpSpring sink with limits on (the simulator answers 107 past
            10 requests/s; the client keeps rate_per_second 10): a backlog
            of 50,000 new leads drained, from the start of the instance to
            the last upsert, as a share of SharpSpring's ceiling of 5,000
            leads/s (10 requests x 500 leads), and the count of 107
            answers; median of 3 runs. Target >= 0.95 and no 107.
  latency   Webhook-to-upsert latency p50/p99 at a steady 1,000 leads/s for
            10 s, limits on, the default rate (9/s) and route linger
            (500ms): from each delivery's scheduled time to the moment the
            simulator applied the lead. Target p99 <= 1.5 s. A second row
            gives the time each delivery took to be answered (after the
            JetStream ack). Target p99 <= 50 ms.
  backfill  Peak RSS of 'crmsync backfill --source ivvy.lead' over N iVvy
            leads (default 1,000,000) as the only crmsync process (it then
            runs the embedded NATS server too), and its records/s; notes
            repeat it beside 'crmsync run', which then runs the server.
            Target <= 256 MiB.
  state     Size of state.db + state.db-wal after 100,000 leads (or
            --state-leads) end to end and a clean stop, per lead; notes
            give it per 100,000 leads. Target <= 1 KB (1,024 bytes) per
            lead.
  cost      Vendor API requests, counted at the simulators, with accounts
            of 1,000, 100,000 and 1,000,000 records (--cost-sizes). The
            simulators are seeded directly with a history older than the
            pollers' start, which is "now" as on a first start; only
            edited leads travel through crmsync, and each poll is run on
            its own. Per size, for the SharpSpring, iVvy (leads and
            contacts) and Getlead pollers and LeadExec's safety net:
            requests per idle poll (target <= 2); requests per edited lead
            (--cost-edits K, default 100, edited behind crmsync's back)
            read by the poller and written by each target: SharpSpring ->
            iVvy, Getlead and LeadExec; iVvy, Getlead and LeadExec ->
            SharpSpring. Getlead's poller finds new leads only, and the
            safety net finds deliveries LeadExec's webhook never made, so
            there the K leads are new ones. Two rounds are edited; the
            second, once the targets know the leads, is the figure, the
            first (creates) is in the notes. Target <= 3 per vendor. Then
            echo writes: SharpSpring <-> iVvy routes, an initial sync of
            --cost-echo-leads leads (default 100,000) from SharpSpring to
            iVvy, polls of both pollers until neither publishes, and the
            writes that changed nothing (any into SharpSpring, any into
            iVvy after it held every lead). Target 0. Not counted: the
            daily SharpSpring sweep (getLeads over every lead, 500 a
            request) and LeadExec's client snapshot, which are not polls
            for changes.

--quick runs smaller sizes: e2e 5,000 leads per run, sink 10,000, latency
5 s, backfill 100,000, state 10,000, cost 1,000 and 10,000 records with an
echo sync of 10,000 leads. The exit status is 1 when a
measurement could not be taken; missed targets show in the table only.`

// benchNames are the rows in table order.
var benchNames = []string{"e2e", "peer", "sink", "latency", "backfill", "state", "cost"}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", benchSynopsis, stderr)
	quick := fs.Bool("quick", false, "smaller sizes, for a quick look")
	only := fs.String("only", "", "run only these rows, comma-separated: "+strings.Join(benchNames, ", "))
	backfillLeads := fs.Int("backfill-leads", 0, "iVvy leads the backfill row pages through (default 1000000, --quick 100000)")
	stateLeads := fs.Int("state-leads", 0, "leads the state row delivers (default 100000, --quick 10000)")
	stateDir := fs.String("state-dir", "", "keep the state row's state database in DIR (created if needed; it must not hold one) to inspect it, e.g. with sqlite3's dbstat")
	costSizes := fs.String("cost-sizes", "", "records per vendor account in the cost rows, comma-separated (default 1000,100000,1000000; --quick 1000,10000)")
	costEdits := fs.Int("cost-edits", 0, "leads edited per round in the cost rows (default 100)")
	costEcho := fs.Int("cost-echo-leads", 0, "leads of the two-way initial sync in the cost rows (default 100000, --quick 10000)")
	peerDir := fs.String("peer-dir", "", "the Watermill comparison's folder for the peer rows (default "+bench.DefaultPeerDir+" from the checkout)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of this process (simulators, instance, load) to FILE")
	execRSS := fs.Bool("exec-rss", false, "used by the backfill row: run the arguments after -- as a crmsync command and print its peak RSS")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *execRSS {
		return bench.ExecRSS(ctx, fs.Args(), stdout, stderr)
	}
	names := benchNames
	if *only != "" {
		names = nil
		for _, n := range strings.Split(*only, ",") {
			n = strings.TrimSpace(n)
			if !slices.Contains(benchNames, n) {
				fmt.Fprintf(stderr, "bench: --only: unknown row %q (rows: %s)\n", n, strings.Join(benchNames, ", "))
				return 2
			}
			names = append(names, n)
		}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil { // the profile is only whole once closed
				fmt.Fprintf(stderr, "bench: cpu profile: %v\n", err)
			}
		}()
	}
	say := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	sz := benchSizes(*quick, *backfillLeads, *stateLeads)
	sz.stateDir = *stateDir
	if *costEdits < 0 || *costEcho < 0 {
		fmt.Fprintln(stderr, "bench: --cost-edits and --cost-echo-leads must be positive")
		return 2
	}
	sz.cost.Edits = *costEdits
	if *costEcho > 0 {
		sz.cost.EchoLeads = *costEcho
	}
	if *costSizes != "" {
		sz.cost.Sizes = nil
		for _, f := range strings.Split(*costSizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 100 {
				fmt.Fprintf(stderr, "bench: --cost-sizes: %q is not a number of records of at least 100\n", f)
				return 2
			}
			sz.cost.Sizes = append(sz.cost.Sizes, n)
		}
	}
	fmt.Fprintf(stderr, "bench: %s\n", bench.Machine())
	var rows []bench.Row
	failed := false
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		start := time.Now()
		say("%s …", name)
		if name == "peer" {
			pc := bench.PeerConfig{Dir: *peerDir, Say: say}
			if *quick {
				pc.Rounds, pc.Leads = 1, 5000
			}
			r, err := bench.Peer(ctx, pc)
			switch {
			case errors.Is(err, bench.ErrNoPeer) && *only == "":
				// Not on this machine: the other rows still run.
				say("peer: skipped: %v", err)
				rows = append(rows, bench.Row{Name: name, Measurement: "crmsync ÷ Watermill peer", Result: "not run", Notes: err.Error()})
			case err != nil:
				failed = true
				say("peer failed: %v", err)
				rows = append(rows, bench.Row{Name: name, Measurement: "crmsync ÷ Watermill peer", Result: "failed", Met: bench.Failed, Notes: firstLine(err.Error())})
			default:
				rows = append(rows, r.Rows()...)
			}
			say("%s done in %s", name, time.Since(start).Round(100*time.Millisecond))
			continue
		}
		if name == "cost" {
			r, err := bench.Cost(ctx, bench.CostConfig{Sizes: sz.cost.Sizes, Edits: sz.cost.Edits, EchoLeads: sz.cost.EchoLeads, Say: say})
			rows = append(rows, r.Rows()...)
			if err != nil {
				failed = true
				say("%s failed: %v", name, err)
				rows = append(rows, bench.Row{Name: name, Measurement: name, Result: "failed", Met: bench.Failed, Notes: firstLine(err.Error())})
			}
			say("%s done in %s", name, time.Since(start).Round(100*time.Millisecond))
			continue
		}
		row, err := benchRow(ctx, name, sz, say)
		if err != nil {
			failed = true
			say("%s failed: %v", name, err)
			row = []bench.Row{{Name: name, Measurement: name, Result: "failed", Met: bench.Failed, Notes: firstLine(err.Error())}}
		}
		say("%s done in %s: %s", name, time.Since(start).Round(100*time.Millisecond), row[0].Result)
		rows = append(rows, row...)
	}
	bench.WriteTable(stdout, rows)
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

type benchSize struct {
	e2eLeads, sinkBacklog, backfillLeads, stateLeads int
	latency                                          time.Duration
	stateDir                                         string
	cost                                             bench.CostConfig
}

func benchSizes(quick bool, backfillLeads, stateLeads int) benchSize {
	s := benchSize{e2eLeads: 20000, sinkBacklog: 50000, latency: 10 * time.Second, backfillLeads: 1000000, stateLeads: 100000}
	if quick {
		s = benchSize{e2eLeads: 5000, sinkBacklog: 10000, latency: 5 * time.Second, backfillLeads: 100000, stateLeads: 10000,
			cost: bench.CostConfig{Sizes: []int{1000, 10000}, EchoLeads: 10000}}
	}
	if backfillLeads > 0 {
		s.backfillLeads = backfillLeads
	}
	if stateLeads > 0 {
		s.stateLeads = stateLeads
	}
	return s
}

func benchRow(ctx context.Context, name string, sz benchSize, say func(string, ...any)) ([]bench.Row, error) {
	switch name {
	case "e2e":
		r, err := bench.E2E(ctx, bench.E2EConfig{Leads: sz.e2eLeads, Say: say})
		return []bench.Row{r.Row()}, err
	case "sink":
		r, err := bench.Sink(ctx, bench.SinkConfig{Backlog: sz.sinkBacklog, Say: say})
		return []bench.Row{r.Row()}, err
	case "latency":
		r, err := bench.Latency(ctx, bench.LatencyConfig{Duration: sz.latency, Say: say})
		return r.Rows(), err
	case "backfill":
		r, err := bench.Backfill(ctx, bench.BackfillConfig{Leads: sz.backfillLeads, Say: say})
		if err != nil {
			return []bench.Row{r.Row(nil)}, err
		}
		beside, err := bench.Backfill(ctx, bench.BackfillConfig{Leads: sz.backfillLeads, BesideRun: true, Say: say})
		return []bench.Row{r.Row(&beside)}, err
	case "state":
		r, err := bench.State(ctx, bench.StateConfig{Leads: sz.stateLeads, Dir: sz.stateDir, Say: say})
		return []bench.Row{r.Row()}, err
	}
	return nil, fmt.Errorf("unknown row %q", name)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
