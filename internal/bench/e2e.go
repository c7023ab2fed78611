package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// E2EConfig sizes the end-to-end throughput measurement.
type E2EConfig struct {
	// Leads per run; default 20,000.
	Leads int
	// Runs; default 3 (the result is their median).
	Runs int
	// Senders is how many deliveries are in flight at once; default 16.
	Senders int
	// Linger of the route; default 50ms (a run ends with one linger in
	// which nothing arrives).
	Linger time.Duration
	// Dir holds the runs' state; default a new temporary directory.
	Dir string
	// Say reports progress; nil is quiet.
	Say func(format string, args ...any)
}

func (c *E2EConfig) defaults() {
	c.Leads = positiveOr(c.Leads, 20000)
	c.Runs = positiveOr(c.Runs, 3)
	c.Senders = positiveOr(c.Senders, 16)
	c.Linger = positiveOr(c.Linger, 50*time.Millisecond)
	c.Say = quietIfNil(c.Say)
}

// E2EResult is leads per second from LeadExec's webhook into SharpSpring.
type E2EResult struct {
	Leads  int       // per run
	Rates  []float64 // leads/s of each run
	Median float64
	// CPUPerLead is the median CPU time this process spent per lead:
	// senders, webhook, embedded NATS, route and simulator together. On a
	// machine shared with other work it is steadier than the rate.
	CPUPerLead time.Duration
	// FloorCPUPerPost and FloorRate are the same form posts answered by a
	// handler that only parses them, measured in the same run: the HTTP
	// cost alone.
	FloorCPUPerPost time.Duration
	FloorRate       float64
}

// CPUCeiling is the rate at which the process would use every CPU of the
// machine at CPUPerLead (0 when unknown).
func (r E2EResult) CPUCeiling() float64 {
	if r.CPUPerLead <= 0 {
		return 0
	}
	return float64(runtime.NumCPU()) * float64(time.Second) / float64(r.CPUPerLead)
}

// E2ETarget is the end-to-end target, leads/s with vendor limits off.
const E2ETarget = 50000

// Row is the result as a table row.
func (r E2EResult) Row() Row {
	return Row{Name: "e2e", Measurement: "end-to-end leads/s, vendor limits off (webhook → JetStream → route → SharpSpring sim)",
		Result: thousands(r.Median) + " leads/s", Target: "≥ " + thousands(E2ETarget) + "/s", Met: verdict(r.Median >= E2ETarget),
		Notes: fmt.Sprintf("median of %d runs of %s leads (%s); 16 concurrent form posts, each answered after the JetStream ack; "+
			"%s µs CPU per lead in this process (load, webhook, NATS, route, simulator): all %d CPUs busy would give %s/s. "+
			"The same posts to a handler that only parses them: %.0f µs CPU per post, %s posts/s "+
			"(HTTP alone allows at most %s/s here)",
			len(r.Rates), thousands(float64(r.Leads)), joinFloats(r.Rates, "%.0f"),
			thousands(float64(r.CPUPerLead.Microseconds())), runtime.NumCPU(), thousands(r.CPUCeiling()),
			float64(r.FloorCPUPerPost.Nanoseconds())/1e3, thousands(r.FloorRate),
			thousands(float64(runtime.NumCPU())*float64(time.Second)/float64(max(r.FloorCPUPerPost, 1))))}
}

// E2E delivers leads to LeadExec's webhook (form posts, Senders at a time)
// of an in-process instance that routes them to a SharpSpring simulator,
// with SharpSpring's limits off in the simulator and the client, and
// measures leads per second from the first delivery to the last upsert.
func E2E(ctx context.Context, c E2EConfig) (E2EResult, error) {
	c.defaults()
	res := E2EResult{Leads: c.Leads}
	var cpu []float64
	for run := 1; run <= c.Runs; run++ {
		r, err := throughputRun(ctx, c)
		if err != nil {
			return res, fmt.Errorf("e2e run %d: %w", run, err)
		}
		c.Say("e2e run %d/%d: %.0f leads/s, %s CPU per lead; every post answered after %s, the last lead written %s later",
			run, c.Runs, r.rate, r.cpuPerLead, r.posted.Round(time.Millisecond), (r.elapsed - r.posted).Round(time.Millisecond))
		res.Rates = append(res.Rates, r.rate)
		cpu = append(cpu, float64(r.cpuPerLead))
	}
	res.Median = median(res.Rates)
	res.CPUPerLead = time.Duration(median(cpu))
	floor, rate, err := httpFloor(ctx, c.Leads, c.Senders)
	if err != nil {
		return res, fmt.Errorf("e2e: HTTP floor: %w", err)
	}
	res.FloorCPUPerPost, res.FloorRate = floor, rate
	c.Say("e2e: the same posts with nothing behind them: %.0f posts/s, %s CPU per post", rate, floor)
	return res, nil
}

// runFigures are one run's figures.
type runFigures struct {
	rate       float64 // leads/s
	cpuPerLead time.Duration
	posted     time.Duration // from the first post until every post was answered
	elapsed    time.Duration // from the first post until the last lead was written
}

// throughputRun runs one end-to-end run in a fresh instance, stopped again
// when it returns.
func throughputRun(ctx context.Context, c E2EConfig) (fig runFigures, err error) {
	c.defaults()
	dir := c.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "crmsync-bench-*"); err != nil {
			return fig, err
		}
		defer os.RemoveAll(dir)
	}
	in, err := newInstance(ctx, dir, instanceOptions{linger: c.Linger})
	if err != nil {
		return fig, err
	}
	defer func() { err = errs(err, in.close()) }()
	if err := in.start(ctx); err != nil {
		return fig, err
	}
	start, cpu := time.Now(), processCPU()
	if err := deliverAll(ctx, in, c.Leads, c.Senders); err != nil {
		return fig, err
	}
	posted := time.Since(start)
	want := int64(c.Leads)
	if err := poll(ctx, time.Duration(c.Leads)*time.Millisecond+time.Minute, "every lead in SharpSpring",
		func() bool { return in.upserts() >= want }); err != nil {
		return fig, fmt.Errorf("%w (%d of %d written)", err, in.upserts(), want)
	}
	elapsed := time.Since(start)
	fig = runFigures{rate: float64(c.Leads) / elapsed.Seconds(), cpuPerLead: (processCPU() - cpu) / time.Duration(c.Leads), posted: posted, elapsed: elapsed}
	if n := len(in.sim.Leads()); n != c.Leads {
		return fig, fmt.Errorf("SharpSpring holds %d leads, want %d", n, c.Leads)
	}
	return fig, nil
}

// deliverAll delivers leads 0..n-1, senders at a time.
func deliverAll(ctx context.Context, in *instance, n, senders int) error {
	return inParallel(ctx, n, senders, func(ctx context.Context, i int) error { return in.deliver(ctx, i, leadFields(i)) })
}

// inParallel calls do for 0..n-1, workers at a time. The first error stops
// the others and is returned; otherwise ctx's error is.
func inParallel(ctx context.Context, n, workers int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := do(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
