package scenario

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/gate"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// fault is one row of the matrix: the same kind of misbehaviour, in each
// simulator's own terms.
type fault struct {
	name string
	ss   sharpspringsim.Faults
	iv   ivvysim.Faults
	gl   getleadsim.Faults
	// kinds that must have fired in each simulator (FaultsInjected keys)
	ssKinds, ivKinds, glKinds []string
	// settledClients: no client write may come once both sides hold the
	// same clients and the pipeline is idle (Result.LateClientWrites).
	settledClients bool
}

var matrix = []fault{
	{name: "5xx bursts",
		ss: sharpspringsim.Faults{ServerErrorRate: 0.04, ServerErrorBurst: 3},
		iv: ivvysim.Faults{ServerErrorRate: 0.04, ServerErrorBurst: 3},
		gl: getleadsim.Faults{ServerErrorRate: 0.04, ServerErrorBurst: 3},
	},
	{name: "timeouts",
		ss: sharpspringsim.Faults{TimeoutRate: 0.02}, iv: ivvysim.Faults{TimeoutRate: 0.02}, gl: getleadsim.Faults{TimeoutRate: 0.02, LateApplyRate: 0.01},
		ssKinds: []string{"timeout"}, ivKinds: []string{"timeout"}, glKinds: []string{"timeout"},
		settledClients: true,
	},
	{name: "dropped after commit",
		ss: sharpspringsim.Faults{DropAfterCommitRate: 0.05}, iv: ivvysim.Faults{DropAfterCommitRate: 0.05}, gl: getleadsim.Faults{DropAfterCommitRate: 0.05},
		ssKinds: []string{"dropAfterCommit"}, ivKinds: []string{"dropAfterCommit"}, glKinds: []string{"dropAfterCommit"},
	},
	{name: "rate-limit answers",
		ss:      sharpspringsim.Faults{RateLimitRate: 0.05},
		iv:      ivvysim.Faults{RateLimitRate: 0.015, RetryAfter: time.Second},
		gl:      getleadsim.Faults{RateLimitRate: 0.05},
		ivKinds: []string{"http429RetryAfter"},
	},
	{name: "429 without Retry-After",
		iv:      ivvysim.Faults{RateLimitRate: 0.05},
		gl:      getleadsim.Faults{RateLimitRate: 0.05, RetryAfter: time.Second},
		ivKinds: []string{"http429"},
	},
	{name: "malformed answers",
		ss: sharpspringsim.Faults{MalformedRate: 0.04}, iv: ivvysim.Faults{MalformedRate: 0.04}, gl: getleadsim.Faults{MalformedRate: 0.04},
	},
	{name: "everything at once",
		ss: sharpspringsim.Faults{ServerErrorRate: 0.02, ServerErrorBurst: 2, TimeoutRate: 0.01, DropAfterCommitRate: 0.03,
			RateLimitRate: 0.03, MalformedRate: 0.02, Latency: 5 * time.Millisecond},
		iv: ivvysim.Faults{ServerErrorRate: 0.02, ServerErrorBurst: 2, TimeoutRate: 0.005, DropAfterCommitRate: 0.03,
			RateLimitRate: 0.01, RetryAfter: time.Second, MalformedRate: 0.02},
		gl: getleadsim.Faults{ServerErrorRate: 0.02, ServerErrorBurst: 2, TimeoutRate: 0.01, DropAfterCommitRate: 0.03,
			RateLimitRate: 0.03, MalformedRate: 0.02},
	},
}

// TestFaultMatrix plays the scenario with each simulator misbehaving, one
// kind of fault at a time and all together: every target must end exactly
// as its sources, with no vendor's per-second limit ever exceeded.
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("plays the whole scenario per row")
	}
	for i, f := range matrix {
		t.Run(f.name, func(t *testing.T) {
			// Rows are independent (their own simulators, bus and state)
			// and mostly wait on backoff: run them side by side.
			t.Parallel()
			seed := int64(i + 1)
			f.ss.Seed, f.iv.Seed, f.gl.Seed = seed, seed, seed
			res, w := play(t, matrixLeads(t), func(w *World) {
				w.SS.SetFaults(f.ss)
				w.IV.SetFaults(f.iv)
				w.GL.SetFaults(f.gl)
			})
			if !res.OK() {
				t.Fatalf("verdict: lost=%d duplicates=%d mismatches=%d", res.Lost, res.Duplicates, res.Mismatches)
			}
			if f.settledClients && res.LateClientWrites != 0 {
				t.Errorf("%d client write request(s) after both sides held the same clients", res.LateClientWrites)
			}
			ss, iv, gl := w.SS.Stats(), w.IV.Stats(), w.GL.Stats()
			if ss.MaxInSlidingSecond > 10 {
				t.Errorf("SharpSpring saw %d requests in one second", ss.MaxInSlidingSecond)
			}
			for _, c := range []struct {
				sim   string
				got   map[string]int
				kinds []string
			}{{"sharpspring", ss.FaultsInjected, f.ssKinds}, {"ivvy", iv.FaultsInjected, f.ivKinds}, {"getlead", gl.FaultsInjected, f.glKinds}} {
				for _, k := range c.kinds {
					if c.got[k] == 0 {
						t.Errorf("%s never injected %s: %v", c.sim, k, c.got)
					}
				}
			}
			t.Logf("ok: %d leads, %d deliveries; faults injected: sharpspring %v, ivvy %v, getlead %v",
				res.Leads, res.Deliveries, ss.FaultsInjected, iv.FaultsInjected, gl.FaultsInjected)
		})
	}
}

// matrixLeads is how many leads LeadExec delivers per row: 200 in CI,
// CRMSYNC_FAULT_LEADS when set (the full size, 2000, is run by hand).
func matrixLeads(t *testing.T) int {
	s := os.Getenv("CRMSYNC_FAULT_LEADS")
	if s == "" {
		return 200
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("CRMSYNC_FAULT_LEADS=%q: want a positive number of leads", s)
	}
	return n
}

// play runs the scenario against an in-process instance whose vendor
// clients give up on a request after 2 seconds.
func play(t *testing.T, leads int, setup func(*World)) (Result, *World) {
	t.Helper()
	// Three minutes fit 200 leads under every fault with room to spare;
	// larger runs get a tenth of a second more per lead.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute+time.Duration(leads)*100*time.Millisecond)
	defer cancel()
	w, err := New(t.TempDir(), Options{Leads: leads, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	cfg := underFaults(t, w)
	logs := &testenv.Log{}
	// CRMSYNC_SCENARIO_LOG_DIR=DIR writes each row's whole log, debug
	// lines included, to DIR/<row>.log.
	var lw io.Writer = logs
	lvl := slog.LevelWarn
	if d := os.Getenv("CRMSYNC_SCENARIO_LOG_DIR"); d != "" {
		f, err := os.Create(filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_")+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		lw, lvl = io.MultiWriter(logs, f), slog.LevelDebug
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: lvl})))
	if err != nil {
		t.Fatal(err)
	}
	setup(w)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	gate := pipeline.NewBudget(pipeline.BudgetConfig{Account: "sharpspring:" + cfg.SharpSpring.AccountID,
		PerSecond: cfg.SharpSpring.RatePerSecond, Shared: true}, a.State)
	// The verdict reads SharpSpring without faults.
	w.o.Say = t.Logf
	res, err := w.Play(ctx, InProcess{App: a}, sharpspring.Gate(withoutFaults{gate, w}))
	if err != nil {
		t.Fatalf("%v\nlast warnings:\n%s\nother than polls:\n%s", err, tail(logs.String(), 30000), grep(logs.String(), "poll", 20))
	}
	return res, w
}

// tail returns the last n bytes of log.
func tail(log string, n int) string {
	return log[max(0, len(log)-n):]
}

// grep returns up to n lines of log that do not contain skip.
func grep(log, skip string, n int) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if l != "" && !strings.Contains(l, skip) && len(out) < n {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// withoutFaults turns the simulators' faults off before the verdict's first
// read: the verdict judges the targets, not the reader.
type withoutFaults struct {
	gate sharpspring.Gate
	w    *World
}

func (g withoutFaults) Wait(ctx context.Context) error {
	g.w.SS.SetFaults(sharpspringsim.Faults{})
	return g.gate.Wait(ctx)
}

// Answered passes the answer on to the budget it wraps.
func (g withoutFaults) Answered() {
	if a, ok := g.gate.(gate.Answerer); ok {
		a.Answered()
	}
}

// underFaults readies w's configuration for a run under vendor faults and
// returns it: vendor calls time out after 2s and the bus redelivers after
// 5s, so a fault costs seconds, not minutes; a 429 without Retry-After
// pauses Getlead writes for 5s, not the default minute (the runs test the
// pause, not its length).
func underFaults(t *testing.T, w *World) *config.Config {
	t.Helper()
	cfg := w.Config
	cfg.Bus.NATS.AckWait = config.Duration(5 * time.Second)
	cfg.SharpSpring.Timeout = config.Duration(2 * time.Second)
	cfg.IVvy.Timeout = config.Duration(2 * time.Second)
	cfg.Getlead.Timeout = config.Duration(2 * time.Second)
	cfg.Getlead.RateLimitWait = config.Duration(5 * time.Second)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}
