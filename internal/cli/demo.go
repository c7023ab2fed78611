package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/kafkabus"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

const demoSynopsis = `demo [--leads N] [--seed N] [--bus nats|kafka] [--no-rate-limit] [--keep] [-v]

Runs crmsync on embedded defaults: an embedded NATS JetStream server, a
temporary SQLite state file, and simulators of SharpSpring and of LeadExec's
webhook delivery, all on this machine. LeadExec delivers --leads leads (form,
JSON and query-string deliveries; some with custom fields; every fifth
updated twice; every seventh retried by LeadExec), crmsync publishes,
maps and upserts them into SharpSpring, and the demo reads every lead back
through the SharpSpring API and compares. It ends with one line:

  demo: ok routes=<n> events=<n> upserts=<n> dlq=<n> mismatches=<n> elapsed=<d>

or "demo: FAILED ..." and exit status 1 when SharpSpring does not match.`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", demoSynopsis, stderr)
	leads := fs.Int("leads", 2000, "number of leads LeadExec delivers")
	seed := fs.Int64("seed", 1, "seed for the generated leads")
	noLimit := fs.Bool("no-rate-limit", false, "turn SharpSpring's 10 requests/second limit off (simulator and client)")
	keep := fs.Bool("keep", false, "keep the temporary data directory and print its path")
	verbose := fs.Bool("v", false, "log the pipeline's info messages to stderr")
	timeout := fs.Duration("timeout", 15*time.Minute, "give up after this long")
	bus := fs.String("bus", "nats", "event bus: nats (embedded JetStream) or kafka (an in-process Kafka cluster)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *leads < 1 {
		fmt.Fprintln(stderr, "demo: --leads must be at least 1")
		return 2
	}
	level := "warn"
	if *verbose {
		level = "info"
	}
	log := newLogger(stderr, level, "text")
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *bus != "nats" && *bus != "kafka" {
		fmt.Fprintln(stderr, "demo: --bus must be nats or kafka")
		return 2
	}
	res, err := demo(ctx, demoOptions{leads: *leads, seed: *seed, noLimit: *noLimit, keep: *keep, bus: *bus, progress: stderr}, log)
	if err != nil {
		fmt.Fprintf(stdout, "demo: FAILED error=%q elapsed=%s\n", err.Error(), res.elapsed.Round(time.Millisecond))
		return 1
	}
	status := "ok"
	if res.mismatches > 0 {
		status = "FAILED"
	}
	fmt.Fprintf(stdout, "demo: %s routes=%d events=%d upserts=%d dlq=%d mismatches=%d elapsed=%s\n",
		status, res.routes, res.events, res.upserts, res.dlq, res.mismatches, res.elapsed.Round(time.Millisecond))
	if res.mismatches > 0 {
		return 1
	}
	return 0
}

type demoOptions struct {
	leads    int
	seed     int64
	noLimit  bool
	keep     bool
	bus      string
	progress io.Writer
}

type demoResult struct {
	routes, events, upserts, dlq, mismatches int
	elapsed                                  time.Duration
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func demo(ctx context.Context, o demoOptions, log *slog.Logger) (res demoResult, err error) {
	start := time.Now()
	defer func() { res.elapsed = time.Since(start) }()
	say := func(format string, args ...any) { fmt.Fprintf(o.progress, "demo: "+format+"\n", args...) }

	dir, err := os.MkdirTemp("", "crmsync-demo-*")
	if err != nil {
		return res, err
	}
	if o.keep {
		say("data directory %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	// SharpSpring simulator on a loopback port, with three custom fields.
	account, secret := "demo-account", randomToken()
	simOpts := sharpspringsim.Options{Accounts: map[string]string{account: secret}}
	if o.noLimit {
		simOpts.RateLimitPerSecond = -1
		simOpts.DailyLimit = -1
	}
	sim := sharpspringsim.New(simOpts)
	simURL, stopSim, err := serve(sim)
	if err != nil {
		return res, err
	}
	defer stopSim()
	custom := []struct{ name, label string }{
		{"favorite_color", "Favorite Color"}, {"lead_source_detail", "Lead Source Detail"}, {"budget", "Budget"},
	}
	var catalog []mappings.CatalogField
	var leadExecCustom []string
	for _, c := range custom {
		sys := sim.CreateField("lead", c.label, "text")
		lx := strings.ReplaceAll(c.label, " ", "")
		catalog = append(catalog, mappings.CatalogField{Name: c.name, Label: c.label, SharpSpring: sys, LeadExec: lx})
		leadExecCustom = append(leadExecCustom, lx)
	}

	user, pass := "leadexec", randomToken()
	rate := 9.0
	cfg := &config.Config{
		DataDir: dir,
		HTTP:    config.HTTPConfig{Listen: "127.0.0.1:0"},
		SharpSpring: &config.SharpSpringConfig{
			Endpoint: simURL + "/pubapi/v1.2/", AccountID: account, SecretKey: config.Secret(secret), RatePerSecond: rate,
		},
		LeadExec: &config.LeadExecConfig{Webhook: config.WebhookConfig{BasicUser: user, BasicPassword: config.Secret(pass)}},
		Catalog:  catalog,
		Routes: []config.RouteConfig{{Name: "leadexec-to-sharpspring", From: "leadexec.lead", To: "sharpspring.lead",
			Linger: config.Duration(200 * time.Millisecond)}},
	}
	if o.bus == "kafka" {
		brokers, stopKafka, err := kafkabus.StartFake()
		if err != nil {
			return res, fmt.Errorf("in-process kafka: %w", err)
		}
		defer stopKafka()
		cfg.Bus = config.BusConfig{Kind: "kafka", Kafka: config.KafkaConfig{Brokers: brokers}}
		say("bus: in-process Kafka cluster at %s", strings.Join(brokers, ","))
	}
	cfg.ApplyDefaults()
	cfg.SharpSpring.Unlimited = o.noLimit
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return res, err
	}
	runCtx, stopApp := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(runCtx) }()
	defer func() {
		stopApp()
		if rerr := <-runErr; rerr != nil && err == nil {
			err = rerr
		}
	}()

	// LeadExec plays its deliveries: form, JSON and query-string methods.
	hook := "http://" + a.Addr() + cfg.LeadExec.Webhook.Path
	var senders []*leadexecsim.Sender
	for _, f := range []leadexecsim.Format{leadexecsim.FormatForm, leadexecsim.FormatJSON, leadexecsim.FormatQuery} {
		s, err := leadexecsim.NewSender(leadexecsim.Delivery{
			URL: hook, Format: f, BasicUser: user, BasicPassword: pass,
			ResponseSearch: `"status":"success"`, MaxRetries: 5, RetryDelay: 250 * time.Millisecond,
		})
		if err != nil {
			return res, err
		}
		senders = append(senders, s)
	}
	generated := leadexecsim.GenerateLeads(o.leads, o.seed, leadExecCustom)
	final := make(map[int64]leadexecsim.Lead, len(generated))
	deliver := func(stage string, ls []leadexecsim.Lead) error {
		parts := make([][]leadexecsim.Lead, len(senders))
		for i, l := range ls {
			parts[i%len(senders)] = append(parts[i%len(senders)], l)
			final[l.UID] = l
		}
		failed := 0
		for i, s := range senders {
			for _, r := range s.DeliverAll(ctx, parts[i], 8) {
				if !r.Delivered {
					failed++
				}
			}
		}
		if failed > 0 {
			return fmt.Errorf("%s: LeadExec could not deliver %d lead(s)", stage, failed)
		}
		return ctx.Err()
	}
	say("LeadExec delivers %d leads to %s", len(generated), hook)
	if err := deliver("first delivery", generated); err != nil {
		return res, err
	}
	// Every fifth lead is edited twice in LeadExec and delivered again: the
	// second edit must win. The second edit clears a custom field (explicit
	// empty) to show that an empty value overwrites.
	var upd1, upd2, retried []leadexecsim.Lead
	for i, l := range generated {
		if i%5 == 0 {
			u1 := cloneLead(l)
			u1.Fields["FirstName"] = l.Fields["FirstName"] + "-edited"
			u1.Fields[leadExecCustom[0]] = "teal"
			upd1 = append(upd1, u1)
			u2 := cloneLead(u1)
			u2.Fields[leadExecCustom[0]] = "crimson"
			u2.Fields[leadExecCustom[2]] = ""
			u2.Fields["City"] = "Springfield"
			upd2 = append(upd2, u2)
		}
		if i%7 == 3 {
			retried = append(retried, l)
		}
	}
	say("LeadExec delivers %d edits, twice", len(upd1))
	if err := deliver("first edit", upd1); err != nil {
		return res, err
	}
	if err := deliver("second edit", upd2); err != nil {
		return res, err
	}
	// LeadExec retries some deliveries of unchanged leads (its answer got
	// lost): nothing new may be published.
	edited := editedUIDs(upd2)
	for i, l := range retried {
		if _, isEdited := edited[l.UID]; isEdited {
			continue // redelivering the original would be a real change back
		}
		if r := senders[i%len(senders)].Deliver(ctx, l); !r.Delivered {
			return res, fmt.Errorf("retry of lead %d was not accepted", l.UID)
		}
	}
	wantEvents := int64(len(generated) + len(upd1) + len(upd2))

	say("waiting for SharpSpring to hold every lead")
	ru := a.Runners[0]
	for {
		backlog, _, berr := a.Backlog(ctx, ru.Name())
		if berr == nil && backlog == 0 && ru.Stats.Settled.Load() >= wantEvents {
			break
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return res, fmt.Errorf("timed out: %d of %d events processed", ru.Stats.Events.Load(), wantEvents)
		}
	}
	res.routes = len(a.Runners)
	res.events = int(ru.Stats.Events.Load())
	res.upserts = int(ru.Stats.Upserts.Load())
	dlq, err := a.State.CountDeadLetters(ctx, "")
	if err != nil {
		return res, err
	}
	res.dlq = dlq
	if accepted := a.Receiver.Stats.Accepted.Load(); accepted != wantEvents {
		return res, fmt.Errorf("webhook accepted %d deliveries, want %d (retries must publish nothing)", accepted, wantEvents)
	}

	say("reading %d leads back through the SharpSpring API", len(final))
	reader, err := sharpspring.New(sharpspring.Config{Endpoint: cfg.SharpSpring.Endpoint, AccountID: account, SecretKey: secret,
		Gate: pipeline.NewBudget(pipeline.BudgetConfig{Account: "demo-reader", PerSecond: rate}, nil)})
	if err != nil {
		return res, err
	}
	res.mismatches, err = verifySharpSpring(ctx, reader, a.Catalog, final, o.progress)
	return res, err
}

func editedUIDs(ls []leadexecsim.Lead) map[int64]struct{} {
	m := make(map[int64]struct{}, len(ls))
	for _, l := range ls {
		m[l.UID] = struct{}{}
	}
	return m
}

func cloneLead(l leadexecsim.Lead) leadexecsim.Lead {
	f := make(map[string]string, len(l.Fields))
	for k, v := range l.Fields {
		f[k] = v
	}
	return leadexecsim.Lead{UID: l.UID, Fields: f}
}

// verifySharpSpring reads every expected lead by email and every active lead
// (to find duplicates) and counts leads that differ from what LeadExec last
// delivered.
func verifySharpSpring(ctx context.Context, c *sharpspring.Client, cat *mappings.Catalog, want map[int64]leadexecsim.Lead, w io.Writer) (int, error) {
	byEmail := make(map[string]leadexecsim.Lead, len(want))
	for _, l := range want {
		byEmail[strings.ToLower(l.Fields["Email"])] = l
	}
	emails := make([]string, 0, len(byEmail))
	for e := range byEmail {
		emails = append(emails, e)
	}
	sort.Strings(emails)
	got := map[string]sharpspring.Lead{}
	for start := 0; start < len(emails); start += 500 {
		chunk := emails[start:min(start+500, len(emails))]
		ls, err := c.GetLeads(ctx, sharpspring.GetLeadsQuery{Emails: chunk})
		if err != nil {
			return 0, fmt.Errorf("read back: %w", err)
		}
		for _, l := range ls {
			got[strings.ToLower(l["emailAddress"])] = l
		}
	}
	// Every active lead, to count duplicates (offset paging; nothing writes
	// while the demo reads).
	seen := map[string]int{}
	for offset := 0; ; offset += 500 {
		ls, err := c.GetLeads(ctx, sharpspring.GetLeadsQuery{Offset: offset, Fields: []string{"id", "emailAddress"}})
		if err != nil {
			return 0, fmt.Errorf("read back: %w", err)
		}
		for _, l := range ls {
			seen[strings.ToLower(l["emailAddress"])]++
		}
		if len(ls) < 500 {
			break
		}
	}
	mismatches := 0
	shown := 0
	report := func(format string, args ...any) {
		mismatches++
		if shown < 10 {
			shown++
			fmt.Fprintf(w, "demo: mismatch: "+format+"\n", args...)
		}
	}
	for _, email := range emails {
		l := byEmail[email]
		g, ok := got[email]
		if !ok {
			report("lead %d (%s) is not in SharpSpring", l.UID, email)
			continue
		}
		if n := seen[email]; n != 1 {
			report("lead %d (%s) is in SharpSpring %d times", l.UID, email, n)
			continue
		}
		canon, _, err := mappings.FromLeadExec(l.Fields, cat)
		if err != nil {
			return 0, err
		}
		for f, v := range mappings.ToSharpSpring(canon, cat) {
			if gv := html.UnescapeString(g[f]); gv != v {
				report("lead %d (%s) field %s = %q, want %q", l.UID, email, f, gv, v)
				break
			}
		}
	}
	extra := 0
	for e := range seen {
		if _, ok := byEmail[e]; !ok {
			extra++
		}
	}
	if extra > 0 {
		report("%d lead(s) in SharpSpring that LeadExec never delivered", extra)
	}
	return mismatches, nil
}

// serve runs h on a loopback port and returns its base URL.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("simulator server", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
