package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// PeerConfig sizes the side-by-side comparison with a Watermill pipeline
// doing crmsync's core job (LeadExec webhook → JetStream → SharpSpring
// createLeads), kept beside the project in its own module.
type PeerConfig struct {
	// Dir is the comparison's folder, the one holding run.sh; default
	// ../shared/bench/watermillpeer from the checkout (Src).
	Dir string
	// Src is the crmsync checkout run.sh builds crmsync from; default the
	// working directory.
	Src string
	// Rounds; each runs the peer, crmsync and the HTTP floor once, in
	// rotating order. Default 3 (the result is their medians).
	Rounds int
	// Leads per run; default 20,000.
	Leads int
	// Say reports progress; nil is quiet.
	Say func(format string, args ...any)
}

// DefaultPeerDir is where the comparison is looked for, from the checkout.
const DefaultPeerDir = "../shared/bench/watermillpeer"

// ErrNoPeer says the comparison is not on this machine.
var ErrNoPeer = errors.New("the Watermill comparison is not here")

func (c *PeerConfig) defaults() error {
	if c.Src == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		c.Src = wd
	}
	if c.Dir == "" {
		c.Dir = filepath.Join(c.Src, DefaultPeerDir)
	}
	c.Rounds = positiveOr(c.Rounds, 3)
	c.Leads = positiveOr(c.Leads, 20000)
	c.Say = quietIfNil(c.Say)
	if _, err := os.Stat(filepath.Join(c.Dir, "run.sh")); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: no %s (--peer-dir)", ErrNoPeer, filepath.Join(c.Dir, "run.sh"))
	}
	if _, err := os.Stat(filepath.Join(c.Src, "cmd", "crmsync", "main.go")); err != nil {
		return fmt.Errorf("the comparison builds crmsync from its checkout: run from the checkout's root: %w", err)
	}
	return nil
}

// PeerVariant is one variant's medians over the rounds.
type PeerVariant struct {
	Runs       int
	LeadsPerS  float64
	CPUPerLead float64 // µs, the pipeline process's
	P99ms      float64 // POST answer p99
	MaxRSSMiB  float64
}

// PeerResult is the comparison: crmsync, the Watermill peer and the HTTP
// floor (a handler that only parses the posts), measured in one run.
type PeerResult struct {
	Leads                int
	Peer, Crmsync, Floor PeerVariant
	Problems             []string
}

// peerRun is the part of the comparison's runs.jsonl lines the table uses.
type peerRun struct {
	Variant    string  `json:"variant"`
	LeadsPerS  float64 `json:"leads_per_s"`
	CPUPerLead float64 `json:"cpu_us_per_lead"`
	P99ms      float64 `json:"post_p99_ms"`
	MaxRSSMiB  float64 `json:"pipeline_max_rss_mib"`
	Problem    string  `json:"problem"`
}

// Peer runs the comparison's run.sh (which builds crmsync from the
// checkout and the peer from its folder) and reads its runs.
func Peer(ctx context.Context, cfg PeerConfig) (PeerResult, error) {
	res := PeerResult{}
	if err := cfg.defaults(); err != nil {
		return res, err
	}
	res.Leads = cfg.Leads
	work, err := os.MkdirTemp("", "crmsync-bench-peer-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work)
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(cfg.Dir, "run.sh"),
		"-rounds", fmt.Sprint(cfg.Rounds), "-n", fmt.Sprint(cfg.Leads), "-senders", "16")
	cmd.Dir = cfg.Src
	cmd.Env = append(os.Environ(), "CRMSYNC_SRC="+cfg.Src, "BIN_DIR="+filepath.Join(work, "bin"), "OUT_DIR="+filepath.Join(work, "out"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return res, err
	}
	cmd.Stdout = nil // the comparison's own table; this one is built from its runs
	if err := cmd.Start(); err != nil {
		return res, err
	}
	var tail []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "round ") {
			cfg.Say("peer: %s", line)
		}
		tail = append(tail, line)
		if len(tail) > 20 {
			tail = tail[1:]
		}
	}
	if err := cmd.Wait(); err != nil {
		return res, fmt.Errorf("the comparison failed: %w: %s", err, strings.Join(tail, "\n"))
	}
	f, err := os.Open(filepath.Join(work, "out", "runs.jsonl"))
	if err != nil {
		return res, err
	}
	defer f.Close()
	var runs []peerRun
	dec := json.NewDecoder(f)
	for dec.More() {
		var r peerRun
		if err := dec.Decode(&r); err != nil {
			return res, fmt.Errorf("reading the comparison's runs: %w", err)
		}
		runs = append(runs, r)
	}
	return summarisePeer(res, runs)
}

// summarisePeer takes the medians of each variant's runs without a problem.
func summarisePeer(res PeerResult, runs []peerRun) (PeerResult, error) {
	by := map[string][]peerRun{}
	for _, r := range runs {
		if r.Problem != "" {
			res.Problems = append(res.Problems, r.Variant+": "+r.Problem)
			continue
		}
		by[r.Variant] = append(by[r.Variant], r)
	}
	med := func(rs []peerRun) PeerVariant {
		var rate, cpu, p99, rss []float64
		for _, r := range rs {
			rate, cpu, p99, rss = append(rate, r.LeadsPerS), append(cpu, r.CPUPerLead), append(p99, r.P99ms), append(rss, r.MaxRSSMiB)
		}
		return PeerVariant{Runs: len(rs), LeadsPerS: median(rate), CPUPerLead: median(cpu), P99ms: median(p99), MaxRSSMiB: median(rss)}
	}
	res.Peer, res.Crmsync, res.Floor = med(by["watermill-peer"]), med(by["crmsync-run"]), med(by["http-floor"])
	if res.Peer.Runs == 0 || res.Crmsync.Runs == 0 || res.Floor.Runs == 0 {
		return res, fmt.Errorf("the comparison has no clean run of every variant: %s", strings.Join(res.Problems, "; "))
	}
	return res, nil
}

// Peer targets: crmsync at least as fast as the peer and no more CPU per
// lead, and at least 0.4 of the HTTP floor's rate.
const (
	PeerRateTarget  = 1.0
	PeerCPUTarget   = 1.0
	FloorRateTarget = 0.4
)

// Rows are the comparison's three ratios, each with the figures behind it.
func (r PeerResult) Rows() []Row {
	if r.Crmsync.Runs == 0 {
		return nil
	}
	rate := r.Crmsync.LeadsPerS / r.Peer.LeadsPerS
	cpu := r.Crmsync.CPUPerLead / r.Peer.CPUPerLead
	floor := r.Crmsync.LeadsPerS / r.Floor.LeadsPerS
	notes := fmt.Sprintf("medians of %d rounds of %s leads, 16 posters, one run each of the Watermill peer (%s), crmsync run and the HTTP floor; "+
		"leads/s %s / %s / %s; CPU µs per lead (pipeline process) %.1f / %.1f / %.1f; POST p99 %.1f / %.1f / %.1f ms; peak RSS %.0f / %.0f MiB",
		r.Crmsync.Runs, thousands(float64(r.Leads)), DefaultPeerDir,
		thousands(r.Peer.LeadsPerS), thousands(r.Crmsync.LeadsPerS), thousands(r.Floor.LeadsPerS),
		r.Peer.CPUPerLead, r.Crmsync.CPUPerLead, r.Floor.CPUPerLead, r.Peer.P99ms, r.Crmsync.P99ms, r.Floor.P99ms,
		r.Peer.MaxRSSMiB, r.Crmsync.MaxRSSMiB)
	if len(r.Problems) > 0 {
		notes += "; runs left out: " + strings.Join(r.Problems, "; ")
	}
	return []Row{
		{Name: "peer", Measurement: "leads/s, crmsync ÷ Watermill peer (webhook → JetStream → SharpSpring sim, same run)",
			Result: fmt.Sprintf("%.2f×", rate), Target: fmt.Sprintf("≥ %.1f×", PeerRateTarget), Met: verdict(rate >= PeerRateTarget), Notes: notes},
		{Name: "peer", Measurement: "CPU µs per lead, crmsync ÷ Watermill peer",
			Result: fmt.Sprintf("%.2f×", cpu), Target: fmt.Sprintf("≤ %.1f×", PeerCPUTarget), Met: verdict(cpu <= PeerCPUTarget),
			Notes: fmt.Sprintf("%.1f vs %.1f µs", r.Crmsync.CPUPerLead, r.Peer.CPUPerLead)},
		{Name: "peer", Measurement: "leads/s, crmsync ÷ HTTP floor (posts parsed and answered, nothing behind)",
			Result: fmt.Sprintf("%.2f×", floor), Target: fmt.Sprintf("≥ %.1f×", FloorRateTarget), Met: verdict(floor >= FloorRateTarget),
			Notes: fmt.Sprintf("%s vs %s leads/s", thousands(r.Crmsync.LeadsPerS), thousands(r.Floor.LeadsPerS))},
	}
}
