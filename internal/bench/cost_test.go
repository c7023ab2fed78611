package bench_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/bench"
	"github.com/crmsync/crmsync/internal/cli"
)

// TestCostCountsIdlePollsEditsAndEchoes runs the vendor-cost measurement on
// accounts of 200 records: every poller's idle polls are counted, every
// edit reaches its targets and is counted on both sides, and the two-way
// initial sync makes no echo write. The figures are request counts, so
// they are judged; no time is.
func TestCostCountsIdlePollsEditsAndEchoes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts instances and simulators")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const edits = 20
	r, err := bench.Cost(ctx, bench.CostConfig{Sizes: []int{200}, Edits: edits, EchoLeads: 200, Say: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	sources, targets := map[string]bench.CostFigure{}, map[string]bench.CostFigure{}
	for _, f := range r.Figures {
		if f.Size != 200 || f.Edits != edits {
			t.Errorf("figure %+v: want size 200 and %d edits", f, edits)
		}
		if f.Role == "source" {
			sources[f.Vendor] = f
		} else {
			targets[f.From+" → "+f.Vendor] = f
		}
	}
	for _, v := range []string{"SharpSpring leads", "iVvy leads/contacts", "Getlead leads", "LeadExec leads (safety net)"} {
		f, ok := sources[v]
		if !ok {
			t.Errorf("no source figure for %s", v)
			continue
		}
		if f.IdlePolls != 3 || f.IdleRequests < f.IdlePolls || f.PerIdlePoll() > bench.CostIdlePollTarget {
			t.Errorf("%s idle polls: %d polls, %d requests (%v)", v, f.IdlePolls, f.IdleRequests, f.IdleMethods)
		}
		if f.EditRequests < 1 || f.PerEdit() > bench.CostPerEditTarget {
			t.Errorf("%s reads for %d edits: %d (%v)", v, f.Edits, f.EditRequests, f.EditMethods)
		}
	}
	for _, k := range []string{"SharpSpring leads → iVvy leads", "SharpSpring leads → Getlead leads", "SharpSpring leads → LeadExec leads",
		"iVvy leads/contacts → SharpSpring leads", "Getlead leads → SharpSpring leads", "LeadExec leads (safety net) → SharpSpring leads"} {
		f, ok := targets[k]
		if !ok {
			t.Errorf("no target figure for %s", k)
			continue
		}
		// Every edited lead needs at least one write (SharpSpring takes up
		// to 500 in one request), and the round before created them;
		// LeadExec takes no update, so it gets no write.
		wantWrites := k != "SharpSpring leads → LeadExec leads"
		if (f.EditRequests > 0) != wantWrites || f.FirstRound <= 0 || f.PerEdit() > bench.CostPerEditTarget {
			t.Errorf("%s: %d requests for %d edits, %.2f per lead before (%v)", k, f.EditRequests, f.Edits, f.FirstRound, f.EditMethods)
		}
	}
	if e := r.Echo; e == nil || e.Leads != 200 || e.Writes() != 0 || e.Polls < 2 {
		t.Errorf("echo %+v", r.Echo)
	}
	rows := r.Rows()
	var out strings.Builder
	bench.WriteTable(&out, rows)
	t.Logf("\n%s", out.String())
	// Per source an idle-poll row and a reads row, per target a writes
	// row, and the echo row.
	if len(rows) != 4*2+6+1 {
		t.Errorf("%d rows, want 15", len(rows))
	}
	for _, row := range rows {
		if row.Name != "cost" || row.Met != bench.Met {
			t.Errorf("row %+v", row)
		}
	}
}

func TestBenchCommandRefusesBadCostSizes(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--only", "cost", "--cost-sizes", "1000,lots"},
		{"bench", "--only", "cost", "--cost-sizes", "10"},
		{"bench", "--only", "cost", "--cost-edits", "-1"},
	} {
		var stdout, stderr bytes.Buffer
		if code := cli.Run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr %q", args, code, stderr.String())
		}
		if stdout.Len() != 0 || !strings.Contains(stderr.String(), "--cost-") {
			t.Errorf("%q: stdout %q, stderr %q", args, stdout.String(), stderr.String())
		}
	}
}

func TestBenchHelpExplainsTheCostRows(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := cli.Run(context.Background(), []string{"bench", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d; stderr %q", code, stderr.String())
	}
	help := stdout.String() + stderr.String()
	for _, want := range []string{"\n  cost ", "--cost-sizes", "--cost-edits", "--cost-echo-leads", "idle poll", "echo writes"} {
		if !strings.Contains(help, want) {
			t.Errorf("bench --help lacks %q", want)
		}
	}
}
