package cli

import (
	"bufio"
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
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// TestBackfillSurvivesSIGKILL backfills iVvy's lead history into SharpSpring
// through the real binary: a 'crmsync run' instance carries the route while
// 'crmsync backfill' is SIGKILLed three times at random pages and started
// again each time. At the end SharpSpring holds every lead exactly once,
// the finished run's counts equal the history's size, and a further run
// says it is finished and does nothing.
//
// CRMSYNC_BACKFILL_LEADS sets the history's size (default 20,000; the
// full-size proof is 200,000).
func TestBackfillSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary over a large history")
	}
	n := 20000
	if s := os.Getenv("CRMSYNC_BACKFILL_LEADS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1000 {
			t.Fatalf("CRMSYNC_BACKFILL_LEADS=%q: want a number ≥ 1000", s)
		}
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("history of %d leads; kill seed %d", n, seed)
	bin := binary(t)
	dir := t.TempDir()

	// iVvy holds the history, stamped an hour ago; the live poller starts
	// at now, so only the backfill carries these leads.
	var offset atomic.Int64
	offset.Store(int64(-time.Hour))
	iv := ivvysim.New(ivvysim.Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	for i := range n {
		cid := iv.SeedContact(ivvysim.Contact{FirstName: "Hist", LastName: fmt.Sprint(i), Email: fmt.Sprintf("h%d@example.com", i)})
		iv.SeedLead(ivvysim.Lead{Name: fmt.Sprint("Lead ", i), SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
	}
	offset.Store(0)
	ivSrv := httptest.NewServer(iv)
	defer ivSrv.Close()
	defer iv.Close()
	ss := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": "ss-secret"}})
	ssSrv := httptest.NewServer(ss)
	defer ssSrv.Close()
	defer ss.Close()

	cfgPath := filepath.Join(dir, "crmsync.yaml")
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: info}
http: {listen: "127.0.0.1:0"}
bus: {nats: {ack_wait: 5s}}
sharpspring: {endpoint: "%s/pubapi/v1.2/", account_id: "1", secret_key: "${SS_SECRET}"}
ivvy:
  endpoint: %s
  api_key: %s
  api_secret: ${IVVY_SECRET}
  rate_per_second: 1000
  poller: {interval: 1s, since: %s}
routes: [{name: iv-ss, from: ivvy.lead, to: sharpspring.lead, linger: 100ms}]
`, filepath.Join(dir, "data"), ssSrv.URL, ivSrv.URL, ivvysim.DefaultKey, time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "SS_SECRET=ss-secret", "IVVY_SECRET="+ivvysim.DefaultSecret)

	// The instance that carries the route.
	run := exec.Command(bin, "run", "--config", cfgPath)
	run.Env = env
	runLog := &testenv.Log{}
	stderr, _ := run.StderrPipe()
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			runLog.WriteString(line + "\n")
			if i := strings.Index(line, "http="); i >= 0 && strings.Contains(line, "crmsync running") {
				addrCh <- strings.Fields(line[i+5:])[0]
			}
		}
	}()
	defer func() { run.Process.Signal(syscall.SIGTERM); run.Wait() }()
	var addr string
	select {
	case addr = <-addrCh:
	case <-time.After(60 * time.Second):
		t.Fatalf("crmsync run did not start:\n%s", runLog)
	}

	began := time.Now()
	pages := func() int { return iv.Stats().ByAction["crm.getLeadList"] }
	totalPages := (n + 99) / 100
	backfill := func() (*exec.Cmd, *testenv.Log, *testenv.Log) {
		cmd := exec.Command(bin, "backfill", "--config", cfgPath, "--source", "ivvy.lead")
		cmd.Env = env
		out, errOut := &testenv.Log{}, &testenv.Log{}
		cmd.Stdout, cmd.Stderr = out, errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, out, errOut
	}
	for kill := 1; kill <= 3; kill++ {
		before := pages()
		left := totalPages - (before - 2*(kill-1)) // a rough count of pages still to read
		at := before + 2 + rng.IntN(max(1, left/3))
		cmd, out, errOut := backfill()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for pages() < at {
			select {
			case err := <-exited:
				t.Fatalf("backfill %d ended before page %d (err %v):\n%s%s", kill, at, err, out, errOut)
			case <-time.After(2 * time.Millisecond):
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		t.Logf("kill %d: SIGKILL after %d of ~%d iVvy pages (%s)", kill, pages(), totalPages+4, time.Since(began).Round(time.Millisecond))
	}
	cmd, out, errOut := backfill()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final backfill: %v\n%s%s", err, out, errOut)
	}
	done := regexp.MustCompile(`backfill ivvy\.lead: done: (\d+) records in (\d+) pages`).FindStringSubmatch(out.String())
	if done == nil || done[1] != strconv.Itoa(n) {
		t.Fatalf("final backfill output %q, want done with %d records\n%s", out, n, errOut)
	}
	// The progress line printed at the end carries the same counts.
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, fmt.Sprintf("backfill: %d/%d records, %s pages", n, n, done[2])) {
		t.Errorf("last progress line %q, want %d/%d records in %s pages", last, n, n, done[2])
	}
	t.Logf("backfill finished: %s (%s)", done[0], time.Since(began).Round(time.Millisecond))
	again, out2, _ := backfill()
	if err := again.Wait(); err != nil || !strings.Contains(out2.String(), "already finished") {
		t.Errorf("a finished backfill run again: err %v, output %q", err, out2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Wait until the route has written the history and has nothing left,
	// live or backfill.
	for ctx.Err() == nil && (len(ss.Leads()) < n || backlog(addr) != 0) {
		time.Sleep(100 * time.Millisecond)
	}
	leads := ss.Leads()
	seen := make(map[string]int, len(leads))
	for _, l := range leads {
		if p := l.Fields["emailAddress"]; p != nil {
			seen[strings.ToLower(*p)]++
		}
	}
	missing, dup := 0, 0
	for i := range n {
		switch seen[fmt.Sprintf("h%d@example.com", i)] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing > 0 || dup > 0 || len(leads) != n {
		t.Fatalf("SharpSpring holds %d leads for %d: %d missing, %d duplicated\n%s", len(leads), n, missing, dup, tail(runLog.String()))
	}
	if st := ss.Stats(); st.MaxInSlidingSecond > 10 || st.Rejected107 > 0 {
		t.Errorf("SharpSpring saw %d requests in one second and answered 107 %d times", st.MaxInSlidingSecond, st.Rejected107)
	}
	t.Logf("every one of %d leads is in SharpSpring exactly once (%s)", n, time.Since(began).Round(time.Millisecond))
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
