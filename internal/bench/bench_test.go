package bench_test

import (
	"bytes"
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/bench"
	"github.com/crmsync/crmsync/internal/cli"
)

// asCrmsync makes the test binary act as the crmsync binary, for the
// measurements that run crmsync commands as child processes.
const asCrmsync = "CRMSYNC_BENCH_TEST_AS_CRMSYNC=1"

func TestMain(m *testing.M) {
	if os.Getenv("CRMSYNC_BENCH_TEST_AS_CRMSYNC") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestMeasurementsAtTinySizes runs every measurement at a tiny size, so the
// code paths stay exercised; the figures themselves are not judged.
func TestMeasurementsAtTinySizes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts instances, simulators and child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var rows []bench.Row
	t.Run("e2e", func(t *testing.T) {
		r, err := bench.E2E(ctx, bench.E2EConfig{Leads: 300, Runs: 2, Say: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Rates) != 2 || r.Rates[0] <= 0 || r.Rates[1] <= 0 || r.Median <= 0 || r.Leads != 300 || r.FloorRate <= 0 {
			t.Errorf("result %+v", r)
		}
		rows = append(rows, r.Row())
	})
	t.Run("sink", func(t *testing.T) {
		r, err := bench.Sink(ctx, bench.SinkConfig{Backlog: 1000, Runs: 1, Say: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Fractions) != 1 || r.Median <= 0 || r.Median > 2 || r.Rejected107 != 0 || r.Requests < 2 {
			t.Errorf("result %+v", r)
		}
		rows = append(rows, r.Row())
	})
	t.Run("latency", func(t *testing.T) {
		r, err := bench.Latency(ctx, bench.LatencyConfig{Rate: 200, Duration: time.Second, Say: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		if r.Leads != 200 || r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max {
			t.Errorf("result %+v", r)
		}
		if r.AnswerP50 <= 0 || r.AnswerP50 > r.AnswerP99 || r.AnswerP99 > r.AnswerMax || r.AnswerMax > r.Max {
			t.Errorf("webhook answers: %+v", r)
		}
		rows = append(rows, r.Rows()...)
	})
	t.Run("backfill", func(t *testing.T) {
		cfg := bench.BackfillConfig{Leads: 1000, Executable: exe, Env: []string{asCrmsync}, Say: t.Logf}
		r, err := bench.Backfill(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.BesideRun = true
		beside, err := bench.Backfill(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []bench.BackfillResult{r, beside} {
			if r.Leads != 1000 || r.Pages < 10 || r.Elapsed <= 0 {
				t.Errorf("result %+v", r)
			}
			if r.PeakRSS <= 0 {
				t.Errorf("no peak RSS: %+v", r)
			}
		}
		if beside.RunPeakRSS <= 0 {
			t.Errorf("no peak RSS of the running instance: %+v", beside)
		}
		rows = append(rows, r.Row(&beside))
	})
	t.Run("state", func(t *testing.T) {
		r, err := bench.State(ctx, bench.StateConfig{Leads: 300, Say: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		if r.Leads != 300 || r.DBBytes <= 0 || r.Per100k() <= 0 {
			t.Errorf("result %+v", r)
		}
		if row := r.Row(); row.Met == bench.NoTarget || !strings.Contains(row.Result, "bytes") || !strings.Contains(row.Notes, "per 100,000 leads") {
			t.Errorf("state row %+v", row)
		}
		rows = append(rows, r.Row())
	})
	var out bytes.Buffer
	bench.WriteTable(&out, rows)
	t.Logf("\n%s", out.String())
	if lines := strings.Count(out.String(), "\n| "); lines != len(rows)+1 {
		t.Errorf("table has %d rows for %d measurements:\n%s", lines-1, len(rows), out.String())
	}
}

func TestBenchCommandRefusesUnknownRows(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := cli.Run(context.Background(), []string{"bench", "--only", "e2e,nope"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2; stderr %q", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), `unknown row "nope"`) {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestBenchStateRowKeepsItsStateWhereAsked(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an instance and simulators")
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--only", "state", "--state-leads", "200", "--state-dir", dir}
	if code := cli.Run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "after 200 leads") {
		t.Errorf("table does not say 200 leads:\n%s", stdout.String())
	}
	if fi, err := os.Stat(filepath.Join(dir, "state.db")); err != nil || fi.Size() == 0 {
		t.Fatalf("state.db not kept in %s: %v", dir, err)
	}
	// A second run would measure a grown state, not a new one.
	stdout.Reset()
	stderr.Reset()
	if code := cli.Run(context.Background(), args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "already holds a state.db") {
		t.Errorf("second run into the same dir: exit %d, stderr %s", code, stderr.String())
	}
}
