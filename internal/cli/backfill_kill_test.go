package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// backfillKillCase is one source of TestBackfillSurvivesSIGKILL: a history
// of records in the source's simulator and a route of the demo's that
// carries them to a target.
type backfillKillCase struct {
	source string
	// ciSize is the history's size by default; CRMSYNC_BACKFILL_LEADS sets
	// every case's size.
	ciSize int
	// world starts the simulators with a history of n records.
	world func(t *testing.T, n int) *killWorld
}

// killWorld is what the shared test needs of one case.
type killWorld struct {
	// config holds the vendor sections and routes of the instance's config
	// (data_dir, log, http and bus are added).
	config string
	env    []string // secrets, NAME=value
	// started, if set, runs once 'crmsync run' is up, before the first
	// backfill.
	started func(t *testing.T)
	// pages counts the source's list requests so far: the kill points.
	pages   func() int
	perPage int // records per backfill page, for the kill points
	// totalKnown says the pager reports the history's size (the progress
	// line then reads n/n, else n/?).
	totalKnown bool
	// target counts the target's records and each history record's copies
	// in it (by key(i)).
	target func() (records int, copies map[string]int)
	key    func(i int) string
	// check, if set, checks the vendors' limits at the end.
	check func(t *testing.T)
}

// TestBackfillSurvivesSIGKILL backfills each source's history into a
// target through the real binary: a 'crmsync run' instance carries the
// route while 'crmsync backfill' is SIGKILLed three times at random pages
// and started again each time. At the end the target holds every record
// exactly once, the finished run's counts equal the history's size, and a
// further run says it is finished and does nothing. Only the backfill
// carries the history: the live sources start after it.
//
// CRMSYNC_BACKFILL_LEADS sets every history's size (default: each case's
// CI size; the full-size proof is 200,000 for ivvy.lead, 20,000 for the
// others). The client routes write one client per request, and SharpSpring
// takes 10 requests a second, so leadexec.client runs 400 clients in CI and
// sharpspring.client (one LeadExec request per client) 10,000.
func TestBackfillSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary over large histories")
	}
	size := 0
	if s := os.Getenv("CRMSYNC_BACKFILL_LEADS"); s != "" {
		var err error
		if size, err = strconv.Atoi(s); err != nil || size < 500 {
			t.Fatalf("CRMSYNC_BACKFILL_LEADS=%q: want a number ≥ 500", s)
		}
	}
	// The cases run side by side (as many as -parallel, GOMAXPROCS by
	// default): each has its own simulators, instance and data directory.
	// leadexec.client goes first, as it mostly waits on SharpSpring's
	// 10 requests a second.
	for _, c := range []backfillKillCase{
		{source: "leadexec.client", ciSize: 400, world: leadexecClientHistory},
		{source: "ivvy.lead", ciSize: 20000, world: ivvyHistory},
		{source: "getlead.lead", ciSize: 20000, world: getleadHistory},
		{source: "leadexec.lead", ciSize: 20000, world: leadexecHistory},
		{source: "sharpspring.client", ciSize: 10000, world: sharpspringClientHistory},
	} {
		t.Run(c.source, func(t *testing.T) {
			t.Parallel()
			n := c.ciSize
			if size > 0 {
				n = size
			}
			backfillSurvivesKills(t, c.source, n, c.world(t, n))
		})
	}
}

// backfillSurvivesKills is the test of one source (see
// TestBackfillSurvivesSIGKILL).
func backfillSurvivesKills(t *testing.T, source string, n int, w *killWorld) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("history of %d records; kill seed %d", n, seed)
	bin := binary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "crmsync.yaml")
	cfg := fmt.Sprintf("data_dir: %s\nlog: {level: info}\nhttp: {listen: \"127.0.0.1:0\"}\nbus: {nats: {ack_wait: 5s}}\n%s",
		filepath.Join(dir, "data"), w.config)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), w.env...)

	// The instance that carries the route.
	run := exec.Command(bin, "run", "--config", cfgPath)
	run.Env = env
	addr, runLog := startRun(t, run)
	defer func() { run.Process.Signal(syscall.SIGTERM); run.Wait() }()
	if w.started != nil {
		w.started(t)
	}

	began := time.Now()
	base := w.pages()
	totalPages := (n + w.perPage - 1) / w.perPage
	backfill := func() (*exec.Cmd, *testenv.Log, *testenv.Log) {
		cmd := exec.Command(bin, "backfill", "--config", cfgPath, "--source", source)
		cmd.Env = env
		out, errOut := &testenv.Log{}, &testenv.Log{}
		cmd.Stdout, cmd.Stderr = out, errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, out, errOut
	}
	for kill := 1; kill <= 3; kill++ {
		before := w.pages()
		left := totalPages - (before - base) // about the pages still to read
		at := before + 2 + rng.IntN(max(2, left/4))
		cmd, out, errOut := backfill()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for w.pages() < at {
			select {
			case err := <-exited:
				t.Fatalf("backfill %d ended before list request %d (err %v):\n%s%s", kill, at, err, out, errOut)
			case <-time.After(2 * time.Millisecond):
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		t.Logf("kill %d: SIGKILL after %d of ~%d list requests (%s)", kill, w.pages()-base, totalPages+8, time.Since(began).Round(time.Millisecond))
	}
	cmd, out, errOut := backfill()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final backfill: %v\n%s%s", err, out, errOut)
	}
	done := regexp.MustCompile(`backfill ` + regexp.QuoteMeta(source) + `: done: (\d+) records in (\d+) pages`).FindStringSubmatch(out.String())
	if done == nil || done[1] != strconv.Itoa(n) {
		t.Fatalf("final backfill output %q, want done with %d records\n%s", out, n, errOut)
	}
	// The progress line printed at the end carries the same counts.
	total := "?"
	if w.totalKnown {
		total = strconv.Itoa(n)
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, fmt.Sprintf("backfill: %d/%s records, %s pages", n, total, done[2])) {
		t.Errorf("last progress line %q, want %d/%s records in %s pages", last, n, total, done[2])
	}
	t.Logf("backfill finished: %s (%s)", done[0], time.Since(began).Round(time.Millisecond))
	again, out2, _ := backfill()
	if err := again.Wait(); err != nil || !strings.Contains(out2.String(), "already finished") {
		t.Errorf("a finished backfill run again: err %v, output %q", err, out2)
	}

	// Wait until the route has written the history and has nothing left,
	// live or backfill: at most 10 minutes, plus a tenth of a second per
	// record (a client route writes one record per request, and
	// SharpSpring takes 10 a second).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute+time.Duration(n)*100*time.Millisecond)
	defer cancel()
	for ctx.Err() == nil {
		if got, _ := w.target(); got >= n && backlog(addr) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	records, copies := w.target()
	missing, dup := 0, 0
	for i := range n {
		switch copies[w.key(i)] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing > 0 || dup > 0 || records != n {
		t.Fatalf("the target holds %d records for %d: %d missing, %d duplicated\n%s", records, n, missing, dup, tail(runLog.String()))
	}
	if w.check != nil {
		w.check(t)
	}
	t.Logf("every one of %d records is in the target exactly once (%s)", n, time.Since(began).Round(time.Millisecond))
}

// serve serves a simulator over real HTTP for the test's lifetime.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// sharpspringTarget is a SharpSpring simulator as a route's target.
func sharpspringTarget(t *testing.T) (*sharpspringsim.Server, string) {
	t.Helper()
	ss := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": "ss-secret"}})
	t.Cleanup(ss.Close)
	url := serve(t, ss)
	return ss, fmt.Sprintf(`sharpspring: {endpoint: "%s/pubapi/v1.2/", account_id: "1", secret_key: "${SS_SECRET}"}`, url) + "\n"
}

// countBy returns how many records there are and how many have each key;
// a record without a key ("") counts in the total only.
func countBy[R any](records []R, key func(R) string) (int, map[string]int) {
	seen := make(map[string]int, len(records))
	for _, r := range records {
		if k := key(r); k != "" {
			seen[k]++
		}
	}
	return len(records), seen
}

// sharpspringLeads counts SharpSpring's leads by email.
func sharpspringLeads(ss *sharpspringsim.Server) func() (int, map[string]int) {
	return func() (int, map[string]int) {
		return countBy(ss.Leads(), func(l sharpspringsim.Lead) string {
			if p := l.Fields["emailAddress"]; p != nil {
				return strings.ToLower(*p)
			}
			return ""
		})
	}
}

func sharpspringLimits(ss *sharpspringsim.Server) func(t *testing.T) {
	return func(t *testing.T) {
		if st := ss.Stats(); st.MaxInSlidingSecond > 10 || st.Rejected107 > 0 {
			t.Errorf("SharpSpring saw %d requests in one second and answered 107 %d times", st.MaxInSlidingSecond, st.Rejected107)
		}
	}
}

func historyEmail(i int) string { return fmt.Sprintf("h%d@example.com", i) }

// ivvyHistory: iVvy leads, stamped an hour ago, into SharpSpring (route
// ivvy-to-sharpspring); the live poller starts at now.
func ivvyHistory(t *testing.T, n int) *killWorld {
	var offset atomic.Int64
	offset.Store(int64(-time.Hour))
	// Lead filters honoured: the live poller beside the backfill reads
	// changes by modifiedDate instead of the whole history every second
	// (what it does where iVvy refuses the filter).
	iv := ivvysim.New(ivvysim.Options{LeadFilters: ivvysim.LeadFiltersHonoured,
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	t.Cleanup(iv.Close)
	for i := range n {
		cid := iv.SeedContact(ivvysim.Contact{FirstName: "Hist", LastName: fmt.Sprint(i), Email: historyEmail(i)})
		iv.SeedLead(ivvysim.Lead{Name: fmt.Sprint("Lead ", i), SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
	}
	offset.Store(0)
	ivURL := serve(t, iv)
	ss, ssCfg := sharpspringTarget(t)
	return &killWorld{
		config: ssCfg + fmt.Sprintf(`ivvy:
  endpoint: %s
  api_key: %s
  api_secret: ${IVVY_SECRET}
  rate_per_second: 1000
  poller: {interval: 1s, since: %s}
routes: [{name: iv-ss, from: ivvy.lead, to: sharpspring.lead, linger: 100ms}]
`, ivURL, ivvysim.DefaultKey, time.Now().UTC().Format(time.RFC3339)),
		env:        []string{"SS_SECRET=ss-secret", "IVVY_SECRET=" + ivvysim.DefaultSecret},
		pages:      func() int { return iv.Stats().ByAction["crm.getLeadList"] },
		perPage:    100,
		totalKnown: true,
		target:     sharpspringLeads(ss),
		key:        historyEmail,
		check:      sharpspringLimits(ss),
	}
}

// getleadHistory: Getlead leads created a day ago, three in each second
// (page boundaries fall inside a second), into SharpSpring; the live poller
// starts at now.
func getleadHistory(t *testing.T, n int) *killWorld {
	g := getleadsim.New(getleadsim.Options{})
	t.Cleanup(g.Close)
	created := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)
	for i := range n {
		g.SeedLead(getleadsim.LeadSeed{Name: fmt.Sprint("Lead ", i), Email: historyEmail(i), Phones: []string{fmt.Sprintf("+9190%08d", i)},
			CreatedAt: created.Add(time.Duration(i/3) * time.Second)})
	}
	gURL := serve(t, g)
	ss, ssCfg := sharpspringTarget(t)
	return &killWorld{
		config: ssCfg + fmt.Sprintf(`getlead:
  mode: v3
  v3_base_url: %s/api/v1
  api_key: ${GETLEAD_KEY}
  rate_per_second: 1000
  poller: {interval: 1h, since: %s}
routes: [{name: gl-ss, from: getlead.lead, to: sharpspring.lead, linger: 100ms}]
`, gURL, time.Now().UTC().Format(time.RFC3339)),
		env:     []string{"SS_SECRET=ss-secret", "GETLEAD_KEY=" + getleadsim.DefaultAPIKey},
		pages:   func() int { return g.Stats().ByEndpoint["leads.list"] },
		perPage: 50,
		target:  sharpspringLeads(ss),
		key:     historyEmail,
		check:   sharpspringLimits(ss),
	}
}

// leadexecHistory: LeadExec leads added a month ago, four in each second,
// into SharpSpring (route leadexec-to-sharpspring); the safety net looks
// back a day only, and the webhook gets no deliveries.
func leadexecHistory(t *testing.T, n int) *killWorld {
	le := leadexecsim.NewServer(leadexecsim.Options{})
	added := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	for i, l := range leadexecsim.GenerateLeads(n, 11, nil) {
		l.Fields[leadexecsim.FieldEmail] = historyEmail(i)
		le.AddLead(leadexecsim.StoredLead{DateAdded: added.Add(time.Duration(i/4) * time.Second), Fields: l.Fields})
	}
	leURL := serve(t, le)
	ss, ssCfg := sharpspringTarget(t)
	return &killWorld{
		config: ssCfg + leadexecConfig(leURL) + `routes: [{name: le-ss, from: leadexec.lead, to: sharpspring.lead, linger: 100ms}]
`,
		env:        []string{"SS_SECRET=ss-secret", "LE_KEY=" + leadexecsim.DefaultKey, "LE_SECRET=" + leadexecsim.DefaultClientSecret, "LE_HOOK=hook-token"},
		pages:      func() int { return le.RequestCount(leadexecsim.EndpointQueryLeads) },
		perPage:    500,
		totalKnown: true,
		target:     sharpspringLeads(ss),
		key:        historyEmail,
		check:      sharpspringLimits(ss),
	}
}

func leadexecConfig(url string) string {
	return fmt.Sprintf(`leadexec:
  api_url: %[1]s
  leads_url: %[1]s
  data_url: %[1]s
  key: ${LE_KEY}
  client_id: %[2]s
  client_secret: ${LE_SECRET}
  webhook: {bearer_token: "${LE_HOOK}"}
  safety_net: {lead_types: [%[3]d]}
  client_poller: {interval: 1h}
`, url, leadexecsim.DefaultClientID, leadexecsim.DefaultLID)
}

func historyCompany(i int) string { return fmt.Sprintf("Agency %d", i) }

// sharpspringClientHistory: SharpSpring agency clients into LeadExec
// (route sharpspring-clients-to-leadexec). The clients are added after the
// live client poller's first snapshot, which it takes at start; its next is
// an hour away.
func sharpspringClientHistory(t *testing.T, n int) *killWorld {
	ss := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": "ss-secret"}})
	t.Cleanup(ss.Close)
	ssURL := serve(t, ss)
	le := leadexecsim.NewServer(leadexecsim.Options{})
	leURL := serve(t, le)
	return &killWorld{
		config: fmt.Sprintf(`sharpspring: {endpoint: "%s/pubapi/v1.2/", account_id: "1", secret_key: "${SS_SECRET}", client_poller: {interval: 1h}}
`, ssURL) + leadexecConfig(leURL) + `routes: [{name: ss-le-clients, from: sharpspring.client, to: leadexec.client, linger: 100ms}]
`,
		env: []string{"SS_SECRET=ss-secret", "LE_KEY=" + leadexecsim.DefaultKey, "LE_SECRET=" + leadexecsim.DefaultClientSecret, "LE_HOOK=hook-token"},
		started: func(t *testing.T) {
			waitFor(t, "the live client poller's first snapshot", func() bool { return ss.Stats().ByMethod["getClients"] > 0 })
			for i := range n {
				ss.SeedClient("1", map[string]string{"companyName": historyCompany(i), "city": "Austin", "salesPhone": fmt.Sprintf("512555%04d", i%10000)})
			}
		},
		pages:      func() int { return ss.Stats().ByMethod["getClients"] },
		perPage:    500,
		totalKnown: true,
		target: func() (int, map[string]int) {
			return countBy(le.Clients(), func(c leadexecsim.Client) string { return c.Fields[1001] })
		},
		key:   historyCompany,
		check: sharpspringLimits(ss),
	}
}

// leadexecClientHistory: LeadExec clients into SharpSpring (route
// leadexec-clients-to-sharpspring), added after the live client poller's
// first snapshot.
func leadexecClientHistory(t *testing.T, n int) *killWorld {
	le := leadexecsim.NewServer(leadexecsim.Options{})
	leURL := serve(t, le)
	ss, ssCfg := sharpspringTarget(t)
	return &killWorld{
		config: ssCfg + leadexecConfig(leURL) + `routes: [{name: le-ss-clients, from: leadexec.client, to: sharpspring.client, linger: 100ms}]
`,
		env: []string{"SS_SECRET=ss-secret", "LE_KEY=" + leadexecsim.DefaultKey, "LE_SECRET=" + leadexecsim.DefaultClientSecret, "LE_HOOK=hook-token"},
		started: func(t *testing.T) {
			waitFor(t, "the live client poller's first snapshot", func() bool { return le.RequestCount(leadexecsim.EndpointGetClientList) > 0 })
			added := time.Now().UTC().Add(-400 * 24 * time.Hour)
			for i := range n {
				le.AddClient(leadexecsim.Client{Username: fmt.Sprintf("buyer%d", i), DateAdded: added.Add(time.Duration(i) * time.Minute),
					Fields: map[int64]string{1001: historyCompany(i), 1004: fmt.Sprintf("buyer%d@example.com", i), 1005: fmt.Sprintf("512555%04d", i%10000)}})
			}
		},
		pages:      func() int { return le.RequestCount(leadexecsim.EndpointGetClientList) },
		perPage:    50,
		totalKnown: true,
		target: func() (int, map[string]int) {
			return countBy(ss.Clients(), func(c sharpspringsim.Client) string { return c.Fields["companyName"] })
		},
		key:   historyCompany,
		check: sharpspringLimits(ss),
	}
}

// waitFor polls cond until it holds, for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// backlog sums every backlog figure of every route in a running instance's
// /status, or -1 when it cannot be read.
func backlog(addr string) int64 {
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st struct {
		Routes []map[string]any `json:"routes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || len(st.Routes) == 0 {
		return -1
	}
	var sum int64
	for _, r := range st.Routes {
		for k, v := range r {
			if f, ok := v.(float64); ok && strings.Contains(k, "backlog") {
				sum += int64(f)
			}
		}
	}
	return sum
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
