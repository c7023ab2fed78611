package cli

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// startRun starts cmd, a 'crmsync run', copying its stderr into logs, and
// returns the address its HTTP listener took, which the "crmsync running"
// line names. It kills cmd and fails the test when that line does not come
// within a minute.
func startRun(t *testing.T, cmd *exec.Cmd) (addr string, logs *testenv.Log) {
	t.Helper()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs = &testenv.Log{}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			if i := strings.Index(line, "http="); i >= 0 && strings.Contains(line, "crmsync running") {
				addrCh <- strings.Fields(line[i+5:])[0]
			}
		}
	}()
	select {
	case addr = <-addrCh:
		return addr, logs
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("crmsync run did not start:\n%s", logs)
		return "", nil
	}
}

// TestRunStopsGracefullyOnSIGTERM runs the real binary, delivers leads, and
// sends SIGTERM while they flow: the process answers further webhooks 503,
// finishes its batch, and exits 0 within the grace period; a restart
// delivers whatever was left, so every lead arrives exactly once.
func TestRunStopsGracefullyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := binary(t)
	sim := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": "secret-key"}})
	sim.SetFaults(sharpspringsim.Faults{Latency: 100 * time.Millisecond})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	defer sim.Close()
	cfgPath := filepath.Join(dir, "crmsync.yaml")
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: info}
http: {listen: "127.0.0.1:0"}
sharpspring: {endpoint: "%s/pubapi/v1.2/", account_id: "1", secret_key: "${SS_SECRET}"}
leadexec: {webhook: {basic_user: le, basic_password: pw}}
routes: [{name: le-ss, from: leadexec.lead, to: sharpspring.lead, batch_size: 20, linger: 50ms}]
`, filepath.Join(dir, "data"), srv.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() (*exec.Cmd, string, *testenv.Log) {
		cmd := exec.Command(bin, "run", "--config", cfgPath)
		cmd.Env = append(os.Environ(), "SS_SECRET=secret-key")
		addr, logs := startRun(t, cmd)
		return cmd, addr, logs
	}
	deliver := func(addr string, i int) int {
		body := url.Values{"LeadUID": {fmt.Sprint(i)}, "Email": {fmt.Sprintf("g%d@example.com", i)}, "FirstName": {"G"}}.Encode()
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/leadexec", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("le", "pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	cmd, addr, logs := start()
	accepted := map[int]bool{}
	for i := 0; i < 200; i++ {
		if deliver(addr, i) == 200 {
			accepted[i] = true
		}
	}
	// Stop while batches are in flight (each request takes 100ms).
	for len(sim.Leads()) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	stopped := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	// Once the signal is handled, intake is refused (503 while draining, or
	// the listener is closed). A delivery accepted before that must still
	// arrive.
	refused := false
	for i := 1000; i < 1500 && !refused; i++ {
		switch deliver(addr, i) {
		case 200:
			accepted[i] = true
		default:
			refused = true
		}
	}
	if !refused {
		t.Error("deliveries were still accepted long after SIGTERM")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, logs)
		}
	case <-time.After(45 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no exit within the grace period\n%s", logs)
	}
	if d := time.Since(stopped); d > 35*time.Second {
		t.Fatalf("stopping took %s", d)
	}
	if n := len(sim.Leads()); n >= len(accepted) {
		t.Logf("note: all %d leads were written before the stop", n)
	}

	// The rest arrives after a restart; nothing twice.
	cmd, _, logs = start()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(sim.Leads()) < len(accepted) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(sim.Leads()); n != len(accepted) {
		t.Fatalf("SharpSpring holds %d leads, %d were accepted\n%s", n, len(accepted), logs)
	}
	if strings.Contains(logs.String(), "secret-key") {
		t.Fatal("the secret key is in the logs")
	}
}
