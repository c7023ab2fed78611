package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// SinkConfig sizes the SharpSpring sink measurement.
type SinkConfig struct {
	// Backlog of new leads per run; default 50,000 (100 full requests).
	Backlog int
	// Runs; default 3 (the result is their median).
	Runs int
	Say  func(format string, args ...any)
}

func (c *SinkConfig) defaults() {
	c.Backlog = positiveOr(c.Backlog, 50000)
	c.Runs = positiveOr(c.Runs, 3)
	c.Say = quietIfNil(c.Say)
}

// SinkResult is the SharpSpring sink's rate with SharpSpring's limits on.
type SinkResult struct {
	Backlog   int
	Fractions []float64 // leads/s ÷ 5,000 of each run
	Median    float64
	// Rejected107 counts the simulator's "too many requests" answers over
	// every run; it must be 0.
	Rejected107 int
	Requests    int // write requests over every run
}

// SinkTarget is the target fraction of SharpSpring's ceiling.
const SinkTarget = 0.95

// Row is the result as a table row.
func (r SinkResult) Row() Row {
	return Row{Name: "sink", Measurement: "SharpSpring sink, limits on: share of the 5,000 leads/s ceiling; 107 answers",
		Result: fmt.Sprintf("%.3f (%s leads/s); %d × 107", r.Median, thousands(r.Median*ssCeiling), r.Rejected107),
		Target: "≥ 0.95; 0 × 107", Met: verdict(r.Median >= SinkTarget && r.Rejected107 == 0),
		Notes: fmt.Sprintf("median of %d drains of %s new leads into a fresh state, from the instance's start (%s), %d requests; "+
			"rate_per_second 10 (default 9): the client sends ≥ 100 ms apart, ≤ 10 per 1.05 s and ≤ 10 unanswered or answered within 1 s, so at most 0.952 in steady state",
			len(r.Fractions), thousands(float64(r.Backlog)), joinFloats(r.Fractions, "%.3f"), r.Requests)}
}

// Sink publishes a backlog of new LeadExec leads, starts an instance whose
// SharpSpring client keeps to 10 requests per second against a simulator
// that enforces it, and measures the drain as a fraction of SharpSpring's
// ceiling (10 requests × 500 leads per second), from the start of the
// instance to the last upsert.
func Sink(ctx context.Context, c SinkConfig) (SinkResult, error) {
	c.defaults()
	res := SinkResult{Backlog: c.Backlog}
	for run := 1; run <= c.Runs; run++ {
		f, err := sinkRun(ctx, c, &res)
		if err != nil {
			return res, fmt.Errorf("sink run %d: %w", run, err)
		}
		c.Say("sink run %d/%d: %.3f of the ceiling", run, c.Runs, f)
		res.Fractions = append(res.Fractions, f)
	}
	res.Median = median(res.Fractions)
	return res, nil
}

func sinkRun(ctx context.Context, c SinkConfig, res *SinkResult) (fraction float64, err error) {
	dir, err := os.MkdirTemp("", "crmsync-bench-*")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	in, err := newInstance(ctx, dir, instanceOptions{limits: true})
	if err != nil {
		return 0, err
	}
	defer func() { err = errs(err, in.close()) }()
	if err := publishBacklog(ctx, in.app.Bus, c.Backlog); err != nil {
		return 0, err
	}
	in.sim.ResetStats()
	start := time.Now()
	if err := in.start(ctx); err != nil {
		return 0, err
	}
	want := int64(c.Backlog)
	limit := time.Duration(c.Backlog/ssMaxObjects+1)*time.Second/5 + time.Minute
	if err := poll(ctx, limit, "backlog drained", func() bool { return in.upserts() >= want }); err != nil {
		return 0, fmt.Errorf("%w (%d of %d written)", err, in.upserts(), want)
	}
	elapsed := time.Since(start)
	if n := len(in.sim.Leads()); n != c.Backlog {
		return 0, fmt.Errorf("SharpSpring holds %d leads, want %d", n, c.Backlog)
	}
	st := in.sim.Stats()
	res.Rejected107 += st.Rejected107
	res.Requests += st.ByMethod["createLeads"] + st.ByMethod["updateLeadsV2"]
	return float64(c.Backlog) / elapsed.Seconds() / ssCeiling, nil
}

// publishBacklog puts n new LeadExec leads on the bus, as the webhook
// would.
func publishBacklog(ctx context.Context, bus pipeline.Publisher, n int) error {
	now := time.Now()
	evs := make([]pipeline.Event, 0, 1000)
	flush := func() error {
		defer func() { evs = evs[:0] }()
		if bp, ok := bus.(pipeline.BatchPublisher); ok {
			return bp.PublishBatch(ctx, evs)
		}
		for _, ev := range evs {
			if err := bus.Publish(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range n {
		ev := pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: strconv.Itoa(i), Fields: leadFields(i),
			ChangedAt: now, Version: now.Format(time.RFC3339Nano)}
		if err := ev.Seal(); err != nil {
			return err
		}
		if evs = append(evs, ev); len(evs) == cap(evs) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
