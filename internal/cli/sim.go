package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/scenario"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

const simSynopsis = `sim [--config-out FILE] [--data-dir DIR] [--listen ADDR] [--sharpspring-listen ADDR ...]
    [--account ID --secret KEY] [--no-rate-limit] [--deliver-to URL --leads N ...]

Runs simulators of SharpSpring, iVvy, Getlead and LeadExec (lead receiver,
clients and lead data APIs), and of every vendor added by a connector (on a
free port), until interrupted, and prints one line per vendor with its base
URL. It writes a crmsync config for them (FILE, default
crmsync.sim.yaml: the demo's eight routes, every secret as ${ENV}) and the
secrets as export lines next to it (FILE with .env, mode 0600), then prints
the command that runs crmsync against the simulators:

  . ./crmsync.sim.env && crmsync run --config crmsync.sim.yaml

--listen is crmsync's own HTTP address in that config (where LeadExec
delivers); the simulators listen on --sharpspring-listen and the like. The
simulators keep their data in memory, so each sim run starts empty, with new
random secrets and, by default, a fresh temporary data directory.

With --deliver-to (e.g. http://127.0.0.1:8080/webhooks/leadexec), LeadExec
delivers --leads generated leads to that webhook URL as soon as it accepts
connections (start 'crmsync run' after sim), with the config's webhook
credentials unless auth flags are given, then keeps serving.`

// defaultSimSecret is the simulator's fixed demo secret key; it alone is
// printed.
const defaultSimSecret = "sim-secret"

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sim", simSynopsis, stderr)
	configOut := fs.String("config-out", "crmsync.sim.yaml", `write crmsync's config for the simulators here, and the secrets to the same name with .env ("" writes neither)`)
	dataDir := fs.String("data-dir", "", "data_dir in the written config (default: a new temporary directory, removed when sim stops)")
	listen := fs.String("listen", "127.0.0.1:8080", "crmsync's own HTTP address, written into the config (its LeadExec webhook); the SharpSpring simulator's address is --sharpspring-listen")
	ssListen := fs.String("sharpspring-listen", "127.0.0.1:8091", "address of the SharpSpring simulator")
	ivListen := fs.String("ivvy-listen", "127.0.0.1:8092", "address of the iVvy simulator")
	glListen := fs.String("getlead-listen", "127.0.0.1:8093", "address of the Getlead simulator")
	leListen := fs.String("leadexec-listen", "127.0.0.1:8094", "address of the LeadExec simulator (lead receiver, clients, lead data)")
	account := fs.String("account", "1001", "SharpSpring account id")
	secret := fs.String("secret", defaultSimSecret, "SharpSpring secret key")
	noLimit := fs.Bool("no-rate-limit", false, "do not enforce SharpSpring's 10 requests/second and 50,000/day in the simulator (crmsync run keeps its own budget)")
	field := fs.String("custom-field", "", "label of one more custom SharpSpring lead field to create (the config's catalog has three)")
	deliverTo := fs.String("deliver-to", "", "webhook URL LeadExec delivers to (e.g. http://127.0.0.1:8080/webhooks/leadexec)")
	leads := fs.Int("leads", 100, "leads to deliver with --deliver-to")
	format := fs.String("format", "form", "delivery content type: form, json, query or xml")
	user := fs.String("basic-user", "", "Basic auth user for deliveries (default: the written config's)")
	pass := fs.String("basic-password", "", "Basic auth password for deliveries (default: the written config's)")
	bearer := fs.String("bearer-token", "", "Bearer token for deliveries")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *leads < 0 {
		fmt.Fprintln(stderr, "sim: --leads must not be negative")
		return 2
	}

	dir := *dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "crmsync-sim-*")
		if err != nil {
			fmt.Fprintf(stderr, "sim: %v\n", err)
			return 1
		}
		defer os.RemoveAll(d)
		dir = d
	} else if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); err == nil {
		fmt.Fprintf(stderr, "sim: warning: %s holds state of an earlier run, whose ids and cursors refer to simulators that are gone; prefer a fresh --data-dir\n", dir)
	}

	w, err := scenario.New(dir, scenario.Options{Leads: max(*leads, 1), NoLimit: *noLimit, Listen: *listen,
		Account: *account, Secret: *secret,
		SimListen: scenario.SimAddrs{SharpSpring: *ssListen, IVvy: *ivListen, Getlead: *glListen, LeadExec: *leListen}})
	if err != nil {
		fmt.Fprintf(stderr, "sim: %v\n", err)
		return 1
	}
	defer w.Close()
	cfg := w.Config

	var sender *leadexecsim.Sender
	if *deliverTo != "" {
		d := leadexecsim.Delivery{URL: *deliverTo, Format: leadexecsim.Format(*format),
			BasicUser: *user, BasicPassword: *pass, BearerToken: *bearer, MaxRetries: 3, RetryDelay: time.Second}
		if *user == "" && *pass == "" && *bearer == "" {
			d.BasicUser, d.BasicPassword = cfg.LeadExec.Webhook.BasicUser, cfg.LeadExec.Webhook.BasicPassword.Value()
		}
		if sender, err = leadexecsim.NewSender(d); err != nil {
			fmt.Fprintf(stderr, "sim: %v\n", err)
			return 2
		}
	}

	ssBase := strings.TrimSuffix(cfg.SharpSpring.Endpoint, "/pubapi/v1.2/")
	ssLine := fmt.Sprintf("sharpspring: %s endpoint=%s account_id=%s", ssBase, cfg.SharpSpring.Endpoint, *account)
	if *secret == defaultSimSecret {
		ssLine += " secret_key=" + defaultSimSecret
	}
	fmt.Fprintln(stdout, ssLine)
	fmt.Fprintf(stdout, "ivvy: %s\n", cfg.IVvy.Endpoint)
	fmt.Fprintf(stdout, "getlead: %s\n", cfg.Getlead.BaseURL)
	fmt.Fprintf(stdout, "leadexec: %s\n", cfg.LeadExec.APIURL)
	for _, name := range slices.Sorted(maps.Keys(w.Connected)) {
		fmt.Fprintf(stdout, "%s: %s\n", name, w.Connected[name].URL())
	}
	if *field != "" {
		fmt.Fprintf(stdout, "sharpspring: custom field %q system_name=%s\n", *field, w.SS.CreateField("lead", *field, "text"))
	}

	if *configOut == "" {
		fmt.Fprintln(stdout, `config: not written (--config-out "")`)
	} else {
		envPath, err := writeSimConfig(w, *configOut)
		if err != nil {
			fmt.Fprintf(stderr, "sim: %v\n", err)
			return 1
		}
		hook := ""
		if u := webhookURL(cfg.HTTP.Listen, cfg.LeadExec.Webhook.Path); u != "" {
			hook = ", LeadExec webhook " + u
		}
		fmt.Fprintf(stdout, "config: wrote %s (%d routes, data_dir %s, crmsync listens on %s%s)\n",
			*configOut, len(cfg.Routes), cfg.DataDir, cfg.HTTP.Listen, hook)
		fmt.Fprintf(stdout, "secrets: wrote %s (export lines, mode 0600)\n", envPath)
		fmt.Fprintf(stdout, "next: . %s && crmsync run --config %s\n", shQuote(sourceable(envPath)), shQuote(*configOut))
	}

	if sender != nil {
		var custom []string
		for _, c := range cfg.Catalog {
			if c.LeadExec != "" {
				custom = append(custom, c.LeadExec)
			}
		}
		if waitReachable(ctx, *deliverTo, func() { fmt.Fprintf(stdout, "leadexec: waiting for %s to accept connections\n", *deliverTo) }) {
			ok := 0
			for _, r := range sender.DeliverAll(ctx, leadexecsim.GenerateLeads(*leads, time.Now().UnixNano(), custom), 4) {
				if r.Delivered {
					ok++
				}
			}
			fmt.Fprintf(stdout, "leadexec: delivered %d of %d leads to %s\n", ok, *leads, *deliverTo)
		}
	}
	<-ctx.Done()
	return 0
}

// writeSimConfig writes the world's config to path and its secrets, as
// export lines, to path with .env, both mode 0600; it returns the latter.
func writeSimConfig(w *scenario.World, path string) (string, error) {
	yml, env, err := w.ChildConfig()
	if err != nil {
		return "", err
	}
	envPath := strings.TrimSuffix(path, filepath.Ext(path)) + ".env"
	if envPath == path {
		envPath = path + ".env"
	}
	var b strings.Builder
	b.WriteString("# Secrets of the simulators 'crmsync sim' runs; source this file before 'crmsync run'.\n")
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shQuote(v))
	}
	header := "# Written by 'crmsync sim' for its simulators; valid while it runs. Secrets are in " + filepath.Base(envPath) + ".\n"
	for p, data := range map[string][]byte{path: append([]byte(header), yml...), envPath: []byte(b.String())} {
		if err := writePrivate(p, data); err != nil {
			return "", err
		}
	}
	return envPath, nil
}

// writePrivate writes data to path with mode 0600, also when path already
// exists with a wider mode.
func writePrivate(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

// webhookURL is where LeadExec reaches crmsync listening on listen, or ""
// when the port is chosen at start.
func webhookURL(listen, path string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path
}

// waitReachable waits until raw's host accepts TCP connections, calling
// waiting once if it does not at first. It reports false when ctx ended
// first.
func waitReachable(ctx context.Context, raw string, waiting func()) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return true // the sender reports it
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	var d net.Dialer
	for first := true; ; first = false {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return true
		}
		if first {
			waiting()
		}
		if !pipeline.Sleep(ctx, 250*time.Millisecond) {
			return false
		}
	}
}

// sourceable makes a relative path usable with the shell's '.', which
// searches PATH for a name without a slash.
func sourceable(p string) string {
	if strings.Contains(p, "/") {
		return p
	}
	return "./" + p
}

// shQuote quotes s for a POSIX shell when it needs quoting.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
