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
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/kafkabus"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
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

	// The vendors' simulators, each on a loopback port.
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
	iv := ivvysim.New(ivvysim.Options{})
	ivURL, stopIV, err := serve(iv)
	if err != nil {
		return res, err
	}
	defer stopIV()
	defer iv.Close()
	gl := getleadsim.New(getleadsim.Options{})
	glURL, stopGL, err := serve(gl)
	if err != nil {
		return res, err
	}
	defer stopGL()

	custom := []struct{ name, label, ivvy string }{
		{"favorite_color", "Favorite Color", "101"}, {"lead_source_detail", "Lead Source Detail", "102"}, {"budget", "Budget", "103"},
	}
	var catalog []mappings.CatalogField
	var leadExecCustom []string
	for _, c := range custom {
		sys := sim.CreateField("lead", c.label, "text")
		lx := strings.ReplaceAll(c.label, " ", "")
		catalog = append(catalog, mappings.CatalogField{Name: c.name, Label: c.label, SharpSpring: sys, LeadExec: lx, IVvy: c.ivvy})
		leadExecCustom = append(leadExecCustom, lx)
	}

	user, pass := "leadexec", randomToken()
	rate := 9.0
	linger := config.Duration(200 * time.Millisecond)
	cfg := &config.Config{
		DataDir: dir,
		HTTP:    config.HTTPConfig{Listen: "127.0.0.1:0"},
		SharpSpring: &config.SharpSpringConfig{
			Endpoint: simURL + "/pubapi/v1.2/", AccountID: account, SecretKey: config.Secret(secret), RatePerSecond: rate,
			Poller: config.SharpSpringPollerConfig{Interval: config.Duration(time.Second), Overlap: config.Duration(2 * time.Second),
				Lag: config.Duration(-1), Since: start.UTC().Add(-time.Minute)},
		},
		IVvy: &config.IVvyConfig{Endpoint: ivURL, APIKey: ivvysim.DefaultKey, APISecret: ivvysim.DefaultSecret, RatePerSecond: 1000,
			LeadDefaults: config.IVvyLeadDefaults{Source: "Website", Type: "Conference", Stage: "New", Quality: "Warm", Industry: "Other"},
			Poller:       config.PollerConfig{Interval: config.Duration(time.Second)}},
		Getlead: &config.GetleadConfig{BaseURL: glURL, V3BaseURL: glURL + "/api/v1", Token: getleadsim.DefaultToken,
			APIKey: getleadsim.DefaultAPIKey, CountryCode: "1", RatePerSecond: 1000},
		LeadExec: &config.LeadExecConfig{Webhook: config.WebhookConfig{BasicUser: user, BasicPassword: config.Secret(pass)}},
		Catalog:  catalog,
		Routes: []config.RouteConfig{
			{Name: "leadexec-to-sharpspring", From: "leadexec.lead", To: "sharpspring.lead", Linger: linger},
			{Name: "leadexec-to-getlead", From: "leadexec.lead", To: "getlead.lead", Linger: linger},
			{Name: "sharpspring-to-ivvy", From: "sharpspring.lead", To: "ivvy.lead", Linger: linger},
			{Name: "ivvy-to-sharpspring", From: "ivvy.lead", To: "sharpspring.lead", Linger: linger},
			{Name: "sharpspring-to-getlead", From: "sharpspring.lead", To: "getlead.lead", Linger: linger},
		},
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
	for i := range generated {
		// One phone number per person: Getlead keys leads by phone.
		generated[i].Fields["PrimaryPhone"] = fmt.Sprintf("(%03d) %03d-%04d", 201+i/8000000, 200+(i/10000)%800, i%10000)
	}
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
	if accepted := a.Receiver.Stats.Accepted.Load(); accepted != wantEvents {
		return res, fmt.Errorf("webhook accepted %d deliveries, want %d (retries must publish nothing)", accepted, wantEvents)
	}

	// The demo reads SharpSpring within the account's shared budget, like
	// every other user of the account.
	readBudget := pipeline.NewBudget(pipeline.BudgetConfig{Account: "sharpspring:" + account, PerSecond: rate, Shared: true}, a.State)
	if o.noLimit {
		readBudget = nil
	}
	var gate sharpspring.Gate
	if readBudget != nil {
		gate = readBudget
	}
	reader, err := sharpspring.New(sharpspring.Config{Endpoint: cfg.SharpSpring.Endpoint, AccountID: account, SecretKey: secret, Gate: gate})
	if err != nil {
		return res, err
	}
	byEmail := make(map[string]leadexecsim.Lead, len(final))
	for _, l := range final {
		byEmail[strings.ToLower(l.Fields["Email"])] = l
	}
	colorSys := catalog[0].SharpSpring

	say("waiting for SharpSpring, iVvy and Getlead to hold every lead")
	settled := func() bool {
		for _, ru := range a.Runners {
			if b, _, err := a.Backlog(ctx, ru.Name()); err != nil || b != 0 {
				return false
			}
		}
		r0, _ := a.Route("leadexec-to-sharpspring")
		r1, _ := a.Route("leadexec-to-getlead")
		return r0.Stats.Settled.Load() >= wantEvents && r1.Stats.Settled.Load() >= wantEvents &&
			ivvyMismatches(iv, byEmail, leadExecCustom[0], io.Discard) == 0
	}
	if err := waitUntil(ctx, settled); err != nil {
		for _, ru := range a.Runners {
			b, _, _ := a.Backlog(context.WithoutCancel(ctx), ru.Name())
			say("route %s: events=%d settled=%d upserts=%d backlog=%d", ru.Name(), ru.Stats.Events.Load(), ru.Stats.Settled.Load(), ru.Stats.Upserts.Load(), b)
		}
		ivvyMismatches(iv, byEmail, leadExecCustom[0], o.progress)
		return res, fmt.Errorf("waiting for the targets: %w", err)
	}

	// Two-way: edits made in iVvy flow back to SharpSpring (and nothing
	// ping-pongs).
	ivEdits := editIVvy(iv, byEmail, max(1, o.leads/100), catalog[0].IVvy)
	say("%d leads are edited in iVvy; waiting for SharpSpring", len(ivEdits))
	for email, color := range ivEdits {
		l := byEmail[email]
		l.Fields[leadExecCustom[0]] = color
		byEmail[email] = l
		final[l.UID] = l
	}
	if err := waitUntil(ctx, func() bool {
		for email, color := range ivEdits {
			sl, ok := sim.LeadByEmail(email)
			if !ok || sl.Fields[colorSys] == nil || *sl.Fields[colorSys] != color {
				return false
			}
		}
		return true
	}); err != nil {
		for _, ru := range a.Runners {
			b, _, _ := a.Backlog(context.WithoutCancel(ctx), ru.Name())
			say("route %s: events=%d settled=%d upserts=%d skipped=%d backlog=%d", ru.Name(), ru.Stats.Events.Load(), ru.Stats.Settled.Load(), ru.Stats.Upserts.Load(), ru.Stats.Skipped.Load(), b)
		}
		return res, fmt.Errorf("waiting for the iVvy edits in SharpSpring: %w", err)
	}
	// The SharpSpring → Getlead route and the echo of the edits settle.
	if err := waitUntil(ctx, func() bool {
		for _, ru := range a.Runners {
			if b, _, err := a.Backlog(ctx, ru.Name()); err != nil || b != 0 {
				return false
			}
		}
		return true
	}); err != nil {
		return res, err
	}

	for _, ru := range a.Runners {
		res.routes++
		res.events += int(ru.Stats.Events.Load())
		res.upserts += int(ru.Stats.Upserts.Load())
	}
	if res.dlq, err = a.State.CountDeadLetters(ctx, ""); err != nil {
		return res, err
	}
	say("reading %d leads back through the SharpSpring API; checking iVvy and Getlead", len(final))
	mm, err := verifySharpSpring(ctx, reader, a.Catalog, final, o.progress)
	if err != nil {
		return res, err
	}
	res.mismatches = mm + ivvyMismatches(iv, byEmail, leadExecCustom[0], o.progress) + getleadMismatches(gl, byEmail, o.progress)
	return res, nil
}

// ivvyMismatches counts leads whose iVvy contact or custom field differs
// from what LeadExec last delivered (after the iVvy edits).
func ivvyMismatches(iv *ivvysim.Server, want map[string]leadexecsim.Lead, colorField string, w io.Writer) int {
	bad := 0
	report := func(format string, args ...any) {
		bad++
		if bad <= 10 {
			fmt.Fprintf(w, "demo: mismatch: ivvy: "+format+"\n", args...)
		}
	}
	byEmail := map[string][]ivvysim.Lead{}
	for _, l := range iv.Leads() {
		c, ok := iv.ContactByID(l.ContactID)
		if !ok {
			report("lead %d has no contact", l.ID)
			continue
		}
		byEmail[strings.ToLower(c.Email)] = append(byEmail[strings.ToLower(c.Email)], l)
	}
	for email, l := range want {
		got := byEmail[email]
		if len(got) != 1 {
			report("%s is in iVvy %d times", email, len(got))
			continue
		}
		c, _ := iv.ContactByID(got[0].ContactID)
		if c.FirstName != l.Fields["FirstName"] || c.LastName != l.Fields["LastName"] {
			report("%s contact %q %q, want %q %q", email, c.FirstName, c.LastName, l.Fields["FirstName"], l.Fields["LastName"])
			continue
		}
		if got[0].CustomFields[101] != l.Fields[colorField] {
			report("%s favorite color %q, want %q", email, got[0].CustomFields[101], l.Fields[colorField])
		}
	}
	if extra := len(byEmail) - len(want); extra > 0 {
		report("%d lead(s) in iVvy that LeadExec never delivered", extra)
	}
	return bad
}

// editIVvy edits the favorite color of n iVvy leads, as a user of iVvy would.
func editIVvy(iv *ivvysim.Server, want map[string]leadexecsim.Lead, n int, fieldID string) map[string]string {
	id, _ := strconv.ParseInt(fieldID, 10, 64)
	emails := make([]string, 0, len(want))
	for e := range want {
		emails = append(emails, e)
	}
	sort.Strings(emails)
	out := map[string]string{}
	for _, e := range emails[:min(n, len(emails))] {
		ls := iv.LeadsByEmail(e)
		if len(ls) != 1 {
			continue
		}
		color := "ivvy-" + strconv.Itoa(len(out))
		iv.EditLead(ls[0].ID, func(l *ivvysim.Lead) {
			if l.CustomFields == nil {
				l.CustomFields = map[int64]string{}
			}
			l.CustomFields[id] = color
		})
		out[e] = color
	}
	return out
}

// getleadMismatches counts people who are not exactly one Getlead lead with
// their name and email, keyed by their phone number.
func getleadMismatches(gl *getleadsim.Server, want map[string]leadexecsim.Lead, w io.Writer) int {
	bad := 0
	report := func(format string, args ...any) {
		bad++
		if bad <= 10 {
			fmt.Fprintf(w, "demo: mismatch: getlead: "+format+"\n", args...)
		}
	}
	for email, l := range want {
		e164, err := mappings.NormalizePhone(l.Fields["PrimaryPhone"], "1")
		if err != nil {
			report("%s: phone %q: %v", email, l.Fields["PrimaryPhone"], err)
			continue
		}
		g, ok := gl.LeadByPhone(e164)
		if !ok {
			report("%s (%s) is not in Getlead", email, e164)
			continue
		}
		name := strings.TrimSpace(l.Fields["FirstName"] + " " + l.Fields["LastName"])
		if g.Name != name || !strings.EqualFold(g.Email, email) {
			report("%s: name %q email %q, want %q %q", e164, g.Name, g.Email, name, email)
		}
	}
	if n := len(gl.Leads()); n != len(want) {
		report("Getlead holds %d leads, want %d", n, len(want))
	}
	return bad
}

// waitUntil polls cond until it holds or ctx ends.
func waitUntil(ctx context.Context, cond func() bool) error {
	for !cond() {
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
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
