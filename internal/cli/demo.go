package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/scenario"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/kafkabus"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

const demoSynopsis = `demo [--leads N] [--seed N] [--bus nats|kafka] [--no-rate-limit] [--keep] [-v]

Runs crmsync on embedded defaults: an embedded NATS JetStream server, a
temporary SQLite state file, and simulators of SharpSpring and of LeadExec's
webhook delivery, all on this machine. LeadExec delivers --leads leads (form,
JSON and query-string deliveries; some with custom fields; every fifth
updated twice; every seventh retried by LeadExec), crmsync publishes,
maps and upserts them into SharpSpring, and the demo reads every lead back
through the SharpSpring API and compares. It ends with one line:

  demo: ok routes=<n> events=<n> upserts=<n> dlq=<n> mismatches=<n> elapsed=<d>

or "demo: FAILED ..." and exit status 1 when SharpSpring does not match.`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", demoSynopsis, stderr)
	leads := fs.Int("leads", 2000, "number of leads LeadExec delivers")
	seed := fs.Int64("seed", 1, "seed for the generated leads")
	noLimit := fs.Bool("no-rate-limit", false, "turn SharpSpring's 10 requests/second limit off (simulator and client)")
	keep := fs.Bool("keep", false, "keep the temporary data directory and print its path")
	verbose := fs.Bool("v", false, "log the pipeline's info messages to stderr")
	timeout := fs.Duration("timeout", 15*time.Minute, "give up after this long")
	bus := fs.String("bus", "nats", "event bus: nats (embedded JetStream) or kafka (an in-process Kafka cluster)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *leads < 1 {
		fmt.Fprintln(stderr, "demo: --leads must be at least 1")
		return 2
	}
	level := "warn"
	if *verbose {
		level = "info"
	}
	log := newLogger(stderr, level, "text")
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *bus != "nats" && *bus != "kafka" {
		fmt.Fprintln(stderr, "demo: --bus must be nats or kafka")
		return 2
	}
	res, err := demo(ctx, demoOptions{leads: *leads, seed: *seed, noLimit: *noLimit, keep: *keep, bus: *bus, progress: stderr}, log)
	if err != nil {
		fmt.Fprintf(stdout, "demo: FAILED error=%q elapsed=%s\n", err.Error(), res.elapsed.Round(time.Millisecond))
		return 1
	}
	status := "ok"
	if res.mismatches > 0 {
		status = "FAILED"
	}
	fmt.Fprintf(stdout, "demo: %s routes=%d events=%d upserts=%d dlq=%d mismatches=%d elapsed=%s\n",
		status, res.routes, res.events, res.upserts, res.dlq, res.mismatches, res.elapsed.Round(time.Millisecond))
	if res.mismatches > 0 {
		return 1
	}
	return 0
}

type demoOptions struct {
	leads    int
	seed     int64
	noLimit  bool
	keep     bool
	bus      string
	progress io.Writer
}

type demoResult struct {
	routes, events, upserts, dlq, mismatches int
	elapsed                                  time.Duration
}

func demo(ctx context.Context, o demoOptions, log *slog.Logger) (res demoResult, err error) {
	start := time.Now()
	defer func() { res.elapsed = time.Since(start) }()
	say := func(format string, args ...any) { fmt.Fprintf(o.progress, "demo: "+format+"\n", args...) }

	dir, err := os.MkdirTemp("", "crmsync-demo-*")
	if err != nil {
		return res, err
	}
	if o.keep {
		say("data directory %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	w, err := scenario.New(dir, scenario.Options{Leads: o.leads, Seed: o.seed, NoLimit: o.noLimit, Say: say})
	if err != nil {
		return res, err
	}
	defer w.Close()
	cfg := w.Config
	if o.bus == "kafka" {
		brokers, stopKafka, err := kafkabus.StartFake()
		if err != nil {
			return res, fmt.Errorf("in-process kafka: %w", err)
		}
		defer stopKafka()
		cfg.Bus = config.BusConfig{Kind: "kafka", Kafka: config.KafkaConfig{Brokers: brokers}}
		cfg.ApplyDefaults()
		say("bus: in-process Kafka cluster at %s", strings.Join(brokers, ","))
	}
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return res, err
	}
	runCtx, stopApp := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(runCtx) }()
	defer func() {
		stopApp()
		if rerr := <-runErr; rerr != nil && err == nil {
			err = rerr
		}
	}()

	// The demo reads SharpSpring within the account's shared budget, like
	// every other user of the account.
	var gate sharpspring.Gate
	if !o.noLimit {
		gate = pipeline.NewBudget(pipeline.BudgetConfig{Account: cfg.SharpSpring.Account(),
			PerSecond: cfg.SharpSpring.RatePerSecond, Shared: true}, a.State)
	}
	sr, err := w.Play(ctx, scenario.InProcess{App: a}, gate)
	if err != nil {
		for _, ru := range a.Runners {
			b, _, _ := a.Backlog(context.WithoutCancel(ctx), ru.Name())
			say("route %s: events=%d settled=%d upserts=%d skipped=%d backlog=%d", ru.Name(), ru.Stats.Events.Load(),
				ru.Stats.Settled.Load(), ru.Stats.Upserts.Load(), ru.Stats.Skipped.Load(), b)
		}
		return res, err
	}
	for _, ru := range a.Runners {
		res.routes++
		res.events += int(ru.Stats.Events.Load())
		res.upserts += int(ru.Stats.Upserts.Load())
	}
	if res.dlq, err = a.State.CountDeadLetters(ctx, ""); err != nil {
		return res, err
	}
	res.mismatches = sr.Lost + sr.Duplicates + sr.Mismatches
	return res, nil
}
