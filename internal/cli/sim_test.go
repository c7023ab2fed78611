package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/scenario"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/vendors/getlead"
	"github.com/crmsync/crmsync/vendors/ivvy"
	"github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// pollUntil checks cond every 50ms until it holds, failing the test after
// limit.
func pollUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSimServesEveryVendorAndWritesARunnableConfig runs 'crmsync sim' with
// --deliver-to pointing at a crmsync that is not up yet, checks the printed
// URLs, the written config and secrets, each simulator over HTTP, then
// starts crmsync from that config: sim delivers its leads once crmsync
// listens, and they reach SharpSpring.
func TestSimServesEveryVendorAndWritesARunnableConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "sim.yaml")
	envPath := filepath.Join(dir, "sim.env")
	dataDir := filepath.Join(dir, "data")
	addr, err := scenario.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	hook := "http://" + addr + "/webhooks/leadexec"
	const leads = 5

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testenv.Log
	simDone := make(chan int, 1)
	go func() {
		simDone <- runSim(ctx, []string{"--config-out", cfgPath, "--data-dir", dataDir, "--listen", addr, "--no-rate-limit",
			"--sharpspring-listen", "127.0.0.1:0", "--ivvy-listen", "127.0.0.1:0", "--getlead-listen", "127.0.0.1:0", "--leadexec-listen", "127.0.0.1:0",
			"--deliver-to", hook, "--leads", fmt.Sprint(leads)}, &stdout, &stderr)
	}()
	stopSim := func() {
		cancel()
		select {
		case code := <-simDone:
			if code != 0 {
				t.Errorf("sim exited %d\nstderr: %s", code, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("sim did not stop within 15s of cancellation")
		}
	}
	defer func() {
		if ctx.Err() == nil {
			stopSim()
		}
	}()
	pollUntil(t, 30*time.Second, "sim's next: line", func() bool {
		select {
		case code := <-simDone:
			t.Fatalf("sim exited %d early\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
		default:
		}
		return strings.Contains(stdout.String(), "\nnext: ")
	})

	// One line per vendor with its base URL.
	printed := map[string]string{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		// The first line of each name; "leadexec: delivered …" comes later.
		if name, rest, ok := strings.Cut(line, ": "); ok && printed[name] == "" {
			printed[name] = rest
		}
	}
	wantNext := fmt.Sprintf(". %s && crmsync run --config %s", envPath, cfgPath)
	if printed["next"] != wantNext {
		t.Errorf("next: %q, want %q", printed["next"], wantNext)
	}
	for _, p := range []string{cfgPath, envPath} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}

	// The secrets file holds export lines; with them set, the config loads.
	env := readExports(t, envPath)
	// One per secret of the config (the iVvy API key is one too).
	if len(env) != 9 {
		t.Fatalf("%s: %d exports, want 9: %v", envPath, len(env), env)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	if len(cfg.Routes) != 8 || cfg.DataDir != dataDir || cfg.HTTP.Listen != addr {
		t.Fatalf("config: %d routes, data_dir %q, http.listen %q", len(cfg.Routes), cfg.DataDir, cfg.HTTP.Listen)
	}
	for vendor, base := range map[string]string{"sharpspring": strings.TrimSuffix(cfg.SharpSpring.Endpoint, "/pubapi/v1.2/"),
		"ivvy": cfg.IVvy.Endpoint, "getlead": cfg.Getlead.BaseURL, "leadexec": cfg.LeadExec.APIURL} {
		if !strings.HasPrefix(base, "http://127.0.0.1:") || strings.Fields(printed[vendor])[0] != base {
			t.Errorf("%s: printed %q, config has %q", vendor, printed[vendor], base)
		}
	}
	// Random secrets are never printed (the fixed demo key may be).
	for _, k := range []string{"CRMSYNC_SIM_WEBHOOK_PASSWORD", "CRMSYNC_SIM_LEADEXEC_POSTING_KEY"} {
		if out := stdout.String() + stderr.String(); env[k] == "" || strings.Contains(out, env[k]) {
			t.Errorf("%s is empty or printed", k)
		}
	}

	// Every simulator answers with the config's credentials, and the
	// SharpSpring and iVvy ones refuse others.
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rcancel()
	ss := func(secret string) *sharpspring.Client {
		c, err := sharpspring.New(sharpspring.Config{Endpoint: cfg.SharpSpring.Endpoint, AccountID: cfg.SharpSpring.AccountID, SecretKey: secret})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	fields, err := ss(cfg.SharpSpring.SecretKey.Value()).GetFields(rctx)
	if err != nil {
		t.Fatalf("sharpspring getFields: %v", err)
	}
	have := map[string]bool{}
	for _, f := range fields {
		have[f.SystemName] = true
	}
	for _, c := range cfg.Catalog {
		if !have[c.SharpSpring] {
			t.Errorf("sharpspring has no field %s", c.SharpSpring)
		}
	}
	if _, err := ss("wrong").GetFields(rctx); !sharpspring.IsAuth(err) {
		t.Errorf("sharpspring with a wrong secret: %v, want an auth error", err)
	}
	iv := func(secret string) error {
		c, err := ivvy.New(ivvy.Config{Endpoint: cfg.IVvy.Endpoint, APIKey: cfg.IVvy.APIKey.Value(), APISecret: secret})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Ping(rctx)
		return err
	}
	if err := iv(cfg.IVvy.APISecret.Value()); err != nil {
		t.Errorf("ivvy ping: %v", err)
	}
	if err := iv("wrong"); err == nil {
		t.Error("ivvy answered a wrong secret")
	}
	gl, err := getlead.NewV3(getlead.V3Config{BaseURL: cfg.Getlead.V3BaseURL, APIKey: cfg.Getlead.APIKey.Value()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gl.Meta(rctx); err != nil {
		t.Errorf("getlead meta: %v", err)
	}
	le, err := leadexec.New(leadexec.Config{APIURL: cfg.LeadExec.APIURL, LeadsURL: cfg.LeadExec.LeadsURL, DataURL: cfg.LeadExec.DataURL,
		Key: cfg.LeadExec.Key.Value(), ClientID: cfg.LeadExec.ClientID, ClientSecret: cfg.LeadExec.ClientSecret.Value()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := le.GetClientList(rctx); err != nil {
		t.Errorf("leadexec client list: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}

	// crmsync runs from the written config; sim, waiting for it, delivers
	// its leads with the config's webhook credentials.
	var logs testenv.Log
	appCtx, stopApp := context.WithCancel(context.Background())
	defer stopApp()
	a, err := app.New(appCtx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	stopRun := testenv.Go(t, "app", a.Run)
	defer stopRun()
	pollUntil(t, 30*time.Second, "crmsync /readyz", func() bool {
		resp, err := http.Get("http://" + a.Addr() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	want := fmt.Sprintf("leadexec: delivered %d of %d leads to %s\n", leads, leads, hook)
	pollUntil(t, 30*time.Second, "the deliveries", func() bool { return strings.Contains(stdout.String(), "leadexec: delivered ") })
	if !strings.Contains(stdout.String(), want) {
		t.Fatalf("want %q in\n%s\ncrmsync log:\n%s", want, stdout.String(), logs.String())
	}
	reader := ss(cfg.SharpSpring.SecretKey.Value())
	pollUntil(t, 30*time.Second, "the leads in SharpSpring", func() bool {
		got, err := reader.GetLeads(rctx, sharpspring.GetLeadsQuery{})
		return err == nil && len(got) >= leads
	})
	stopSim()
}

// readExports reads the "export NAME=VALUE" lines of a sim secrets file
// (values single-quoted when they need it).
func readExports(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kv, ok := strings.CutPrefix(line, "export ")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok || !ok2 {
			t.Fatalf("%s: not an export line: %q", path, line)
		}
		if strings.HasPrefix(v, "'") {
			v = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'"), `'\''`, "'")
		}
		env[k] = v
	}
	return env
}

func TestSimHelpNamesTheNewFlags(t *testing.T) {
	code, _, errs := run(t, "sim", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"-config-out", "-data-dir", "-listen", "-sharpspring-listen", "-ivvy-listen", "-getlead-listen",
		"-leadexec-listen", "-deliver-to", "-leads", "-format", "-basic-user", "-bearer-token", "-no-rate-limit", "-account", "-secret"} {
		if !strings.Contains(errs, f+" ") && !strings.Contains(errs, f+"\n") {
			t.Errorf("sim --help lacks %s", f)
		}
	}
}

// TestSimFailsOnABusyPort: a simulator address in use stops sim with exit
// 1 before anything is written.
func TestSimFailsOnABusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfgPath := filepath.Join(t.TempDir(), "sim.yaml")
	// Should sim not fail, it stops after 10s instead of hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var outb, errb bytes.Buffer
	code := Run(ctx, []string{"sim", "--config-out", cfgPath, "--listen", "127.0.0.1:0", "--sharpspring-listen", "127.0.0.1:0",
		"--ivvy-listen", ln.Addr().String(), "--getlead-listen", "127.0.0.1:0", "--leadexec-listen", "127.0.0.1:0"}, &outb, &errb)
	out, errs := outb.String(), errb.String()
	if code != 1 || !strings.Contains(errs, ln.Addr().String()) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	if _, err := os.Stat(cfgPath); !os.IsNotExist(err) {
		t.Fatalf("config written despite the failure: %v", err)
	}
}
