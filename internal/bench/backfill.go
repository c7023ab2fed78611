package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
	"github.com/crmsync/crmsync/vendors/simkit"
)

// BackfillConfig sizes the backfill measurement.
type BackfillConfig struct {
	// Leads in iVvy's history; default 1,000,000.
	Leads int
	// BesideRun starts `crmsync run` on the same data dir first, as an
	// operator would: the running instance then runs the embedded NATS
	// server and the backfill only publishes to it. Default false: the
	// backfill is the only crmsync process and runs the server itself.
	BesideRun bool
	// Executable is the crmsync binary to run; default this process's own
	// executable (os.Executable).
	Executable string
	// Env is added to the children's environment.
	Env []string
	Say func(format string, args ...any)
}

func (c *BackfillConfig) defaults() error {
	c.Leads = positiveOr(c.Leads, 1000000)
	if c.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		c.Executable = exe
	}
	c.Say = quietIfNil(c.Say)
	return nil
}

// BackfillResult is what `crmsync backfill` took over a large history.
type BackfillResult struct {
	Leads     int
	Pages     int
	BesideRun bool
	Elapsed   time.Duration
	// PeakRSS is the backfill process's maximum resident set size in bytes
	// (0 when the system does not report it).
	PeakRSS int64
	// RunPeakRSS is the running instance's, with BesideRun.
	RunPeakRSS int64
}

// BackfillRSSTarget is the peak RSS target.
const BackfillRSSTarget = 256 * mib

// Rate is records per second over the whole run, start-up included.
func (r BackfillResult) Rate() float64 { return float64(r.Leads) / r.Elapsed.Seconds() }

// Row is the result as a table row; beside, if not nil, is a run of the
// same size beside `crmsync run` for the notes.
func (r BackfillResult) Row(beside *BackfillResult) Row {
	row := Row{Name: "backfill", Measurement: fmt.Sprintf("peak RSS of `crmsync backfill` over %s iVvy leads", thousands(float64(r.Leads))),
		Result: fmt.Sprintf("%.0f MiB", float64(r.PeakRSS)/mib), Target: "≤ 256 MiB", Met: verdict(r.PeakRSS > 0 && r.PeakRSS <= BackfillRSSTarget),
		Notes: fmt.Sprintf("%s records/s (%s pages of 100 in %s); the only crmsync process, so it also runs the embedded NATS server",
			thousands(r.Rate()), thousands(float64(r.Pages)), r.Elapsed.Round(100*time.Millisecond))}
	if beside != nil {
		row.Notes += fmt.Sprintf("; beside `crmsync run`, which then runs the server: backfill %.0f MiB, run %.0f MiB, %s records/s",
			float64(beside.PeakRSS)/mib, float64(beside.RunPeakRSS)/mib, thousands(beside.Rate()))
	}
	if r.PeakRSS == 0 {
		row.Result, row.Met = "not reported on "+Machine(), NoTarget
	}
	return row
}

var (
	backfillDone = regexp.MustCompile(`backfill ivvy\.lead: done: (\d+) records in (\d+) pages`)
	runReady     = regexp.MustCompile(`crmsync running`)
)

// Backfill seeds an iVvy simulator with a history of leads and runs
// `crmsync backfill --source ivvy.lead` over it as a child process, alone
// (it then runs the embedded NATS server too) or beside a running instance
// (BesideRun), and reports the peak resident set size of each crmsync
// process (see ExecRSS) and the backfill's rate.
func Backfill(ctx context.Context, c BackfillConfig) (res BackfillResult, err error) {
	if err := c.defaults(); err != nil {
		return res, err
	}
	res.BesideRun = c.BesideRun
	dir, err := os.MkdirTemp("", "crmsync-bench-*")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	c.Say("backfill: seeding %s iVvy leads", thousands(float64(c.Leads)))
	// Lead filters honoured, so that a live poller beside the backfill reads
	// changes by modifiedDate instead of the whole history every poll.
	iv := ivvysim.New(ivvysim.Options{LeadFilters: ivvysim.LeadFiltersHonoured})
	defer iv.Close()
	for i := range c.Leads {
		cid := iv.SeedContact(ivvysim.Contact{FirstName: "Hist", LastName: strconv.Itoa(i), Email: fmt.Sprintf("h%d@example.com", i)})
		iv.SeedLead(ivvysim.Lead{Name: "Lead " + strconv.Itoa(i), SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
	}
	ivURL, stopIV, err := simkit.Serve(iv, "")
	if err != nil {
		return res, err
	}
	defer stopIV()
	ssSecret := rand.Text()
	ss := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": ssSecret}})
	defer ss.Close()
	ssURL, stopSS, err := simkit.Serve(ss, "")
	if err != nil {
		return res, err
	}
	defer stopSS()

	// The route reads LeadExec, not iVvy: the running instance (with
	// BesideRun) only hosts the bus, so the figures are the backfill's.
	cfgPath := filepath.Join(dir, "crmsync.yaml")
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: info}
http: {listen: "127.0.0.1:0"}
sharpspring: {endpoint: "%s/pubapi/v1.2/", account_id: "1", secret_key: "${CRMSYNC_BENCH_SS_SECRET}"}
leadexec: {webhook: {basic_user: leadexec, basic_password: "${CRMSYNC_BENCH_HOOK_PASSWORD}"}}
ivvy:
  endpoint: %s
  api_key: %s
  api_secret: ${CRMSYNC_BENCH_IVVY_SECRET}
  rate_per_second: 1000
routes: [{name: leadexec-to-sharpspring, from: leadexec.lead, to: sharpspring.lead}]
`, filepath.Join(dir, "data"), ssURL, ivURL, ivvysim.DefaultKey)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return res, err
	}
	env := append(os.Environ(), c.Env...)
	env = append(env, "CRMSYNC_BENCH_SS_SECRET="+ssSecret, "CRMSYNC_BENCH_IVVY_SECRET="+ivvysim.DefaultSecret,
		"CRMSYNC_BENCH_HOOK_PASSWORD="+rand.Text())

	var run *child
	if c.BesideRun {
		ready := make(chan struct{})
		var once sync.Once
		run, err = startChild(ctx, c.Executable, env, []string{"run", "--config", cfgPath}, func(line string) {
			if runReady.MatchString(line) {
				once.Do(func() { close(ready) })
			}
		})
		if err != nil {
			return res, err
		}
		defer run.stop()
		select {
		case <-ready:
		case <-run.exited:
			return res, fmt.Errorf("crmsync run ended before it was ready:\n%s", run.output())
		case <-time.After(time.Minute):
			return res, fmt.Errorf("crmsync run not ready after a minute:\n%s", run.output())
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}

	c.Say("backfill: running %s backfill", filepath.Base(c.Executable))
	start := time.Now()
	bf, err := startChild(ctx, c.Executable, env, []string{"backfill", "--config", cfgPath, "--source", "ivvy.lead"}, func(line string) {
		if strings.HasPrefix(line, "backfill: ") {
			c.Say("%s", line)
		}
	})
	if err != nil {
		return res, err
	}
	rss, err := bf.wait()
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("crmsync backfill: %w", err)
	}
	m := backfillDone.FindStringSubmatch(bf.stdout.String())
	if m == nil {
		return res, fmt.Errorf("crmsync backfill did not say it was done:\n%s", bf.output())
	}
	res.Leads, _ = strconv.Atoi(m[1])
	res.Pages, _ = strconv.Atoi(m[2])
	res.PeakRSS = rss
	if res.Leads != c.Leads {
		return res, fmt.Errorf("crmsync backfill published %d records, want %d", res.Leads, c.Leads)
	}
	if run != nil {
		if res.RunPeakRSS, err = run.stop(); err != nil {
			return res, fmt.Errorf("crmsync run: %w", err)
		}
	}
	return res, nil
}
