package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/pipeline"
	lsrc "github.com/crmsync/crmsync/sources/leadexec"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
	"github.com/crmsync/crmsync/vendors/simkit"
)

// Targets of the vendor-cost rows.
const (
	CostIdlePollTarget = 2 // requests per idle poll, per vendor
	CostPerEditTarget  = 3 // requests per edited lead, per vendor, on average
)

// CostConfig sizes the vendor-cost measurement.
type CostConfig struct {
	// Sizes are the records in each vendor account; default 1,000, 100,000
	// and 1,000,000.
	Sizes []int
	// Edits is how many leads are edited behind crmsync's back per round;
	// default 100.
	Edits int
	// EchoLeads is how many SharpSpring leads the two-way initial sync
	// carries to iVvy before echo writes are counted; default 100,000; 0
	// with EchoOff skips it.
	EchoLeads int
	EchoOff   bool
	Say       func(format string, args ...any)
}

func (c *CostConfig) defaults() {
	if len(c.Sizes) == 0 {
		c.Sizes = []int{1000, 100000, 1000000}
	}
	c.Edits = positiveOr(c.Edits, 100)
	c.EchoLeads = positiveOr(c.EchoLeads, 100000)
	c.Say = quietIfNil(c.Say)
}

// CostFigure is what one vendor's API was asked at one account size, in
// one role.
type CostFigure struct {
	Size   int    // records in the account
	Vendor string // "SharpSpring leads", …
	// Role is "source" (its poller) or "target" (its sink, with the source
	// it is written from).
	Role string
	From string // for a target: the source vendor
	// IdlePolls and IdleRequests: polls run with nothing changed and the
	// requests they made (sources only).
	IdlePolls, IdleRequests int
	IdleMethods             map[string]int
	// Edits and EditRequests: leads changed behind crmsync's back in the
	// measured round and the requests of this vendor that carried them
	// (source reads, or target writes and reads).
	Edits, EditRequests int
	EditMethods         map[string]int
	// FirstRound is the requests per lead of the round before, in which
	// the edited leads were new to the target (creates); 0 when there was
	// none.
	FirstRound float64
	Note       string
}

// PerIdlePoll is requests per idle poll.
func (f CostFigure) PerIdlePoll() float64 {
	if f.IdlePolls == 0 {
		return 0
	}
	return float64(f.IdleRequests) / float64(f.IdlePolls)
}

// PerEdit is requests per edited lead.
func (f CostFigure) PerEdit() float64 {
	if f.Edits == 0 {
		return 0
	}
	return float64(f.EditRequests) / float64(f.Edits)
}

// EchoFigure is the two-way initial sync: SharpSpring ⇄ iVvy.
type EchoFigure struct {
	Leads int // carried from SharpSpring to iVvy
	// SharpSpringWrites and IVvyWrites are the write requests that changed
	// nothing: every write into SharpSpring (each lead came from there),
	// and every write into iVvy after it held every lead.
	SharpSpringWrites, IVvyWrites int
	Polls                         int // polls of each poller after iVvy held every lead
	Elapsed                       time.Duration
}

// Writes is every echo write.
func (e EchoFigure) Writes() int { return e.SharpSpringWrites + e.IVvyWrites }

// CostResult is the vendor-cost measurement.
type CostResult struct {
	Figures []CostFigure
	Echo    *EchoFigure
	// Elapsed per account size, seeding included.
	Elapsed map[int]time.Duration
}

// Rows are the result as table rows: per size, one per source (idle poll
// and reads per edited lead) and one per target (writes per edited lead),
// then the echo row.
func (r CostResult) Rows() []Row {
	var rows []Row
	for _, f := range r.Figures {
		size := thousands(float64(f.Size))
		if f.Role == "source" {
			rows = append(rows, Row{Name: "cost",
				Measurement: fmt.Sprintf("%s poller, %s in the account: requests per idle poll", f.Vendor, size),
				Result:      fmt.Sprintf("%.2f", f.PerIdlePoll()), Target: fmt.Sprintf("≤ %d", CostIdlePollTarget),
				Met:   verdict(f.IdlePolls > 0 && f.PerIdlePoll() <= CostIdlePollTarget),
				Notes: fmt.Sprintf("%d polls: %s", f.IdlePolls, methodList(f.IdleMethods))})
		}
		what := "reads"
		if f.Role == "target" {
			what = "writes (from " + f.From + ")"
		}
		notes := fmt.Sprintf("%d leads: %s", f.Edits, methodList(f.EditMethods))
		if f.FirstRound > 0 {
			notes += fmt.Sprintf("; %.2f per lead in the round before, when the leads were new to the target", f.FirstRound)
		}
		if f.Note != "" {
			notes += "; " + f.Note
		}
		rows = append(rows, Row{Name: "cost",
			Measurement: fmt.Sprintf("%s %s, %s in the account: requests per edited lead", f.Vendor, what, size),
			Result:      fmt.Sprintf("%.2f", f.PerEdit()), Target: fmt.Sprintf("≤ %d", CostPerEditTarget),
			Met: verdict(f.Edits > 0 && f.PerEdit() <= CostPerEditTarget), Notes: notes})
	}
	if e := r.Echo; e != nil {
		rows = append(rows, Row{Name: "cost",
			Measurement: fmt.Sprintf("echo writes after a two-way initial sync of %s leads (SharpSpring ⇄ iVvy)", thousands(float64(e.Leads))),
			Result:      fmt.Sprint(e.Writes()), Target: "0", Met: verdict(e.Writes() == 0),
			Notes: fmt.Sprintf("writes into SharpSpring: %d; into iVvy after it held every lead: %d; %d polls of each poller after that; %s",
				e.SharpSpringWrites, e.IVvyWrites, e.Polls, e.Elapsed.Round(100*time.Millisecond))})
	}
	return rows
}

// methodList is "method×n, …", most requested first.
func methodList(m map[string]int) string {
	if len(m) == 0 {
		return "no requests"
	}
	keys := slices.Collect(maps.Keys(m))
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// Cost measures what crmsync asks of the vendors' APIs: requests per idle
// poll of each poller, requests per lead edited behind crmsync's back
// (source reads and target writes, per vendor) and echo writes after a
// two-way initial sync. Each account size gets simulators seeded directly
// with that many records (a history older than the pollers' start), an
// instance whose pollers start at "now", as on a first start, and whose
// polls the measurement runs one at a time; only the edited leads travel.
func Cost(ctx context.Context, c CostConfig) (CostResult, error) {
	c.defaults()
	res := CostResult{Elapsed: map[int]time.Duration{}}
	if small := slices.Min(c.Sizes); c.Edits > small {
		return res, fmt.Errorf("%d edits per round in an account of %d records", c.Edits, small)
	}
	for _, n := range c.Sizes {
		start := time.Now()
		figs, err := costAtSize(ctx, c, n)
		res.Figures = append(res.Figures, figs...)
		res.Elapsed[n] = time.Since(start)
		if err != nil {
			return res, fmt.Errorf("%s records: %w", thousands(float64(n)), err)
		}
		c.Say("cost: %s records done in %s", thousands(float64(n)), res.Elapsed[n].Round(100*time.Millisecond))
	}
	if !c.EchoOff {
		e, err := costEcho(ctx, c)
		if err != nil {
			return res, fmt.Errorf("echo: %w", err)
		}
		res.Echo = &e
	}
	return res, nil
}

// costSims are the three simulators of one measurement, on loopback ports.
type costSims struct {
	ss       *sharpspringsim.Server
	iv       *ivvysim.Server
	gl       *getleadsim.Server
	le       *leadexecsim.Server
	ssURL    string
	leURL    string
	ivURL    string
	glURL    string
	ssSecret string
	ssIDs    []int64 // the seeded SharpSpring leads
	stops    []func()
}

const costAccount = "1001"

func newCostSims() (*costSims, error) {
	s := &costSims{ssSecret: rand.Text()}
	s.ss = sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{costAccount: s.ssSecret},
		RateLimitPerSecond: -1, DailyLimit: -1})
	// The cost of the iVvy poller where iVvy honours the (undocumented)
	// lead filters; where it refuses them, an idle poll reads the whole
	// lead list, a page per 100 leads.
	s.iv = ivvysim.New(ivvysim.Options{LeadFilters: ivvysim.LeadFiltersHonoured})
	s.gl = getleadsim.New(getleadsim.Options{})
	s.le = leadexecsim.NewServer(leadexecsim.Options{})
	s.stops = append(s.stops, s.ss.Close, s.iv.Close, s.gl.Close)
	for _, x := range []struct {
		h   http.Handler
		url *string
	}{{s.ss, &s.ssURL}, {s.iv, &s.ivURL}, {s.gl, &s.glURL}, {s.le, &s.leURL}} {
		u, stop, err := simkit.Serve(x.h, "")
		if err != nil {
			s.close()
			return nil, err
		}
		*x.url = u
		s.stops = append(s.stops, stop)
	}
	return s, nil
}

func (s *costSims) close() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

// requests are the sims' request counts by method.
func (s *costSims) ssRequests() map[string]int { return maps.Clone(s.ss.Stats().ByMethod) }
func (s *costSims) ivRequests() map[string]int { return maps.Clone(s.iv.Stats().ByAction) }
func (s *costSims) glRequests() map[string]int { return maps.Clone(s.gl.Stats().ByEndpoint) }

func (s *costSims) leRequests() map[string]int {
	m := map[string]int{}
	for ep, n := range s.le.RequestCounts() {
		if n > 0 {
			m[string(ep)] = n
		}
	}
	return m
}

func (s *costSims) reset() {
	s.ss.ResetStats()
	s.iv.ResetStats()
	s.gl.ResetStats()
	s.le.ResetCounts()
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// seed fills each account with n records whose last change lies between
// 30 days and 10 minutes before now, oldest first: older than the pollers'
// start and than the overlap their windows re-read.
func (s *costSims) seed(n int, say func(string, ...any)) {
	now := time.Now().UTC()
	step := 30 * 24 * time.Hour / time.Duration(n)
	at := func(i int) time.Time { return now.Add(-10*time.Minute - time.Duration(n-i)*step) }
	say("cost: seeding %s SharpSpring leads", thousands(float64(n)))
	s.ssIDs = s.ss.SeedLeads(n, func(i int) map[string]string {
		return map[string]string{"emailAddress": fmt.Sprintf("ss%d@example.com", i), "firstName": "Ada",
			"lastName": fmt.Sprintf("Seed%d", i), "mobilePhoneNumber": ssMobile(i), "phoneNumber": usPhone(i)}
	}, func(i int) []sharpspringsim.SeedOption {
		return []sharpspringsim.SeedOption{sharpspringsim.SeedTimestamps(at(i), at(i))}
	})
	say("cost: seeding %s iVvy leads and contacts", thousands(float64(n)))
	s.iv.SeedLeads(n, func(i int) ivvysim.LeadSeed {
		return ivvysim.LeadSeed{Contact: ivvysim.Contact{FirstName: "Iva", LastName: fmt.Sprintf("Seed%d", i), Email: fmt.Sprintf("iv%d@example.com", i)},
			Lead: ivvysim.Lead{Name: fmt.Sprintf("Lead %d", i), SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1}, At: at(i)}
	})
	say("cost: seeding %s Getlead leads", thousands(float64(n)))
	s.gl.SeedLeads(n, func(i int) getleadsim.LeadSeed {
		return getleadsim.LeadSeed{Name: fmt.Sprintf("Gil Seed%d", i), Email: fmt.Sprintf("gl%d@example.com", i),
			Phones: []string{glPhone(i)}, CreatedAt: at(i)}
	})
	// LeadExec's history lies before the safety net's lookback (24h): a
	// lead inside it that the webhook delivered is read by every poll, but
	// it costs no request of its own (see the row's notes).
	say("cost: seeding %s LeadExec leads", thousands(float64(n)))
	s.le.AddLeads(n, func(i int) leadexecsim.StoredLead {
		return leadexecsim.StoredLead{DateAdded: at(i).Add(-25 * time.Hour), Fields: map[string]string{
			"FirstName": "Lex", "LastName": fmt.Sprintf("Seed%d", i), "Email": fmt.Sprintf("le%d@example.com", i)}}
	})
}

// ssMobile and glPhone are distinct Indian mobile numbers (Getlead's
// default country) for SharpSpring's and Getlead's own leads.
func ssMobile(i int) string { return fmt.Sprintf("+9197%08d", i) }
func glPhone(i int) string  { return fmt.Sprintf("+9196%08d", i) }

// usPhone is a 10-digit US number, as LeadExec's lead type requires.
func usPhone(i int) string { return fmt.Sprintf("512%07d", i) }

// steppedSource runs a poller's polls only when asked, so that the
// requests of each poll can be counted on their own.
type steppedSource struct {
	name string
	from string // what routes read from it
	poll func(ctx context.Context) (int, error)
	req  chan chan pollOutcome
}

type pollOutcome struct {
	published int
	err       error
}

func (s *steppedSource) Name() string { return s.name }

// Run polls once per request until ctx ends.
func (s *steppedSource) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-s.req:
			n, err := s.poll(ctx)
			r <- pollOutcome{n, err}
		}
	}
}

// step runs one poll and returns how many events it published.
func (s *steppedSource) step(ctx context.Context) (int, error) {
	r := make(chan pollOutcome, 1)
	select {
	case s.req <- r:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case o := <-r:
		return o.published, o.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// costInstance is an in-process crmsync whose pollers are stepped.
type costInstance struct {
	say     func(string, ...any)
	app     *app.App
	sources map[string]*steppedSource
	lastRun map[string]time.Time
	cancel  context.CancelFunc
	done    chan error
}

// newCostInstance builds and starts an instance over sims with routes
// (from → to), every poller starting at since.
func newCostInstance(ctx context.Context, say func(string, ...any), dir string, sims *costSims, since time.Time, routes ...[2]string) (*costInstance, error) {
	cfg := &config.Config{
		DataDir: dir,
		HTTP:    config.HTTPConfig{Listen: "127.0.0.1:0"},
		SharpSpring: &config.SharpSpringConfig{Endpoint: sims.ssURL + "/pubapi/v1.2/", AccountID: costAccount,
			SecretKey: config.Secret(sims.ssSecret), FieldCheckInterval: -1,
			Poller: config.SharpSpringPollerConfig{Lag: config.Duration(-1), Since: since}},
		IVvy: &config.IVvyConfig{Endpoint: sims.ivURL, APIKey: ivvysim.DefaultKey, APISecret: ivvysim.DefaultSecret, RatePerSecond: 1000,
			LeadDefaults: config.IVvyLeadDefaults{Source: "Website", Type: "Conference", Stage: "New", Quality: "Warm", Industry: "Other"},
			Poller:       config.PollerConfig{Since: since}},
		Getlead: &config.GetleadConfig{BaseURL: sims.glURL, V3BaseURL: sims.glURL + "/api/v1", Token: getleadsim.DefaultToken,
			APIKey: getleadsim.DefaultAPIKey, RatePerSecond: 1000, Poller: config.PollerConfig{Since: since}},
		LeadExec: &config.LeadExecConfig{APIURL: sims.leURL, LeadsURL: sims.leURL, DataURL: sims.leURL,
			Key: leadexecsim.DefaultKey, ClientID: leadexecsim.DefaultClientID, ClientSecret: leadexecsim.DefaultClientSecret,
			Webhook: config.WebhookConfig{BasicUser: "leadexec", BasicPassword: config.Secret(rand.Text())},
			Receiver: config.LeadExecReceiverConfig{VID: leadexecsim.DefaultVID, LID: leadexecsim.DefaultLID,
				AID: leadexecsim.DefaultAID, APIKey: leadexecsim.DefaultPostingKey},
			SafetyNet: config.LeadExecSafetyNetConfig{LeadTypes: []int64{leadexecsim.DefaultLID}, MinAge: config.Duration(leMinAge)}},
	}
	for _, r := range routes {
		cfg.Routes = append(cfg.Routes, config.RouteConfig{Name: strings.ReplaceAll(r[0]+"-to-"+r[1], ".", "-"), From: r[0], To: r[1],
			Linger: config.Duration(50 * time.Millisecond)})
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.SharpSpring.Unlimited = true
	cfg.SharpSpring.DailyQuota = 1 << 30
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	in := &costInstance{say: say, app: a, sources: map[string]*steppedSource{}, lastRun: map[string]time.Time{}}
	for i, s := range a.Sources {
		p, ok := s.(pipeline.Stepper)
		if !ok {
			continue
		}
		st := &steppedSource{name: s.Name(), from: p.Publishes(), req: make(chan chan pollOutcome), poll: p.Step}
		a.Sources[i] = st
		in.sources[st.name] = st
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	in.cancel, in.done = cancel, make(chan error, 1)
	go func() { in.done <- a.Run(rctx) }()
	return in, nil
}

func (in *costInstance) close() error {
	in.cancel()
	return <-in.done
}

// runners are the routes reading source.
func (in *costInstance) runners(source string) []*pipeline.Runner {
	var out []*pipeline.Runner
	for _, r := range in.app.Runners {
		if r.From() == source {
			out = append(out, r)
		}
	}
	return out
}

// poll runs one poll of source, at least a second after its last, and
// waits until every route reading it settled what it published.
func (in *costInstance) poll(ctx context.Context, source string) (int, error) {
	s := in.sources[source]
	if s == nil {
		return 0, fmt.Errorf("no poller %s", source)
	}
	if last := in.lastRun[source]; !last.IsZero() {
		// A poller's windows are whole seconds: a second poll within the
		// same second has nothing due, which no interval in use allows.
		if err := poll(ctx, 5*time.Second, "the next second", func() bool {
			return time.Now().Truncate(time.Second).After(last.Truncate(time.Second))
		}); err != nil {
			return 0, err
		}
	}
	rs := in.runners(s.from)
	before := make([]int64, len(rs))
	for i, r := range rs {
		before[i] = r.Stats.Settled.Load()
	}
	n, err := s.step(ctx)
	in.lastRun[source] = time.Now()
	if err != nil {
		return n, fmt.Errorf("poll %s: %w", source, err)
	}
	for i, r := range rs {
		want := before[i] + int64(n)
		// A large initial sync takes its time: 10ms an event on top.
		limit := 5*time.Minute + time.Duration(n)*10*time.Millisecond
		next := time.Now().Add(time.Minute)
		if err := poll(ctx, limit, "route "+r.Name()+" settled", func() bool {
			if time.Now().After(next) {
				in.say("cost: route %s: %s of %s events settled", r.Name(), thousands(float64(r.Stats.Settled.Load()-before[i])), thousands(float64(n)))
				next = next.Add(time.Minute)
			}
			return r.Stats.Settled.Load() >= want
		}); err != nil {
			return n, fmt.Errorf("%w (%d of %d events settled)", err, r.Stats.Settled.Load()-before[i], n)
		}
		if d := r.Stats.DeadLetters.Load(); d > 0 {
			return n, fmt.Errorf("route %s dead-lettered %d records", r.Name(), d)
		}
	}
	return n, nil
}

// costAtSize measures every vendor at one account size.
func costAtSize(ctx context.Context, c CostConfig, n int) (figs []CostFigure, err error) {
	sims, err := newCostSims()
	if err != nil {
		return nil, err
	}
	defer sims.close()
	sims.seed(n, c.Say)
	dir, err := os.MkdirTemp("", "crmsync-bench-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// SharpSpring as the source, iVvy, Getlead and LeadExec as its targets.
	c.Say("cost: %s records: SharpSpring → iVvy, Getlead, LeadExec", thousands(float64(n)))
	in, err := newCostInstance(ctx, c.Say, dir+"/a", sims, time.Now(), [2]string{"sharpspring.lead", "ivvy.lead"}, [2]string{"sharpspring.lead", "getlead.lead"},
		[2]string{"sharpspring.lead", "leadexec.lead"})
	if err != nil {
		return nil, err
	}
	f, err := costRounds(ctx, c, n, in, sims, "sharpspring.lead", "SharpSpring leads", sims.ssRequests,
		[]costTarget{{"iVvy leads", sims.ivRequests}, {"Getlead leads", sims.glRequests}, {"LeadExec leads", sims.leRequests}},
		func(round int) {
			for i := range c.Edits {
				sims.ss.EditLead(sims.ssIDs[i*(n/c.Edits)], map[string]string{"lastName": fmt.Sprintf("Edited%d-%d", round, i)})
			}
		})
	for i := range f {
		if f[i].Vendor == "LeadExec leads" {
			f[i].Note = "LeadExec's lead receiver only inserts: edits are not posted, the round before inserted the leads"
		}
	}
	figs = append(figs, f...)
	if err = errors.Join(err, in.close()); err != nil {
		return figs, err
	}

	// iVvy, Getlead and LeadExec as sources, SharpSpring as their target.
	c.Say("cost: %s records: iVvy, Getlead, LeadExec → SharpSpring", thousands(float64(n)))
	in, err = newCostInstance(ctx, c.Say, dir+"/b", sims, time.Now(), [2]string{"ivvy.lead", "sharpspring.lead"}, [2]string{"getlead.lead", "sharpspring.lead"},
		[2]string{"leadexec.lead", "sharpspring.lead"})
	if err != nil {
		return figs, err
	}
	defer func() { err = errors.Join(err, in.close()) }()
	ivLeads := sims.iv.Leads()
	f, err = costRounds(ctx, c, n, in, sims, "ivvy.lead", "iVvy leads/contacts", sims.ivRequests,
		[]costTarget{{"SharpSpring leads", sims.ssRequests}},
		func(round int) {
			for i := range c.Edits {
				sims.iv.EditLead(ivLeads[i*(n/c.Edits)].ID, func(l *ivvysim.Lead) { l.Description = fmt.Sprintf("edited %d-%d", round, i) })
			}
		})
	figs = append(figs, f...)
	if err != nil {
		return figs, err
	}
	// Getlead's poller finds new leads only (Getlead documents no way to
	// find changed ones): the "edits" are leads created behind crmsync's
	// back.
	f, err = costRounds(ctx, c, n, in, sims, "getlead.lead", "Getlead leads", sims.glRequests,
		[]costTarget{{"SharpSpring leads", sims.ssRequests}},
		func(round int) {
			for i := range c.Edits {
				sims.gl.SeedLead(getleadsim.LeadSeed{Name: fmt.Sprintf("Gil New%d-%d", round, i), Email: fmt.Sprintf("gl-new%d-%d@example.com", round, i),
					Phones: []string{fmt.Sprintf("+9195%03d%05d", round, i)}})
			}
		})
	for i := range f {
		f[i].Note = "Getlead's poller finds new leads only: each round creates its leads in Getlead"
	}
	figs = append(figs, f...)
	if err != nil {
		return figs, err
	}
	// LeadExec's leads come by webhook, which no poll costs; its safety net
	// queries the lead data API for the leads of the last 24 hours the
	// webhook never delivered. Its "edits" are such leads.
	f, err = costRounds(ctx, c, n, in, sims, lsrc.DefaultSafetyNetSource, "LeadExec leads (safety net)", sims.leRequests,
		[]costTarget{{"SharpSpring leads", sims.ssRequests}},
		func(round int) {
			for i := range c.Edits {
				sims.le.AddLead(leadexecsim.StoredLead{DateAdded: time.Now().Add(-2 * leMinAge), Fields: map[string]string{
					"FirstName": "Lex", "LastName": fmt.Sprintf("Missed%d-%d", round, i), "Email": fmt.Sprintf("le-missed%d-%d@example.com", round, i)}})
			}
		})
	for i := range f {
		f[i].Note = "the leads are deliveries the webhook never received, found by the safety net"
		if f[i].Role == "source" {
			f[i].Note += " (every 15 min by default); each of its polls also reads every lead added in the last 24 h: " +
				"⌈leads a day ÷ 500⌉ requests per lead type, whatever the account's size"
		}
	}
	figs = append(figs, f...)
	return figs, err
}

// leMinAge is the safety net's minimum lead age in the measurement (the
// default, 10 minutes, leaves room for a delivery under way).
const leMinAge = 2 * time.Second

type costTarget struct {
	vendor   string
	requests func() map[string]int
}

// costRounds measures source: three idle polls, then two rounds of edits
// (the first makes the leads known to the targets, the second is the
// figure), each carried by polls until a poll publishes nothing.
func costRounds(ctx context.Context, c CostConfig, n int, in *costInstance, sims *costSims, source, vendor string,
	sourceRequests func() map[string]int, targets []costTarget, edit func(round int)) ([]CostFigure, error) {
	const idlePolls = 3
	src := CostFigure{Size: n, Vendor: vendor, Role: "source", IdlePolls: idlePolls}
	// The first poll of a new cursor may read its start second; it is
	// not an idle one.
	if _, err := in.poll(ctx, source); err != nil {
		return nil, err
	}
	sims.reset()
	for range idlePolls {
		if p, err := in.poll(ctx, source); err != nil {
			return nil, err
		} else if p != 0 {
			return nil, fmt.Errorf("an idle poll of %s published %d events", source, p)
		}
	}
	src.IdleMethods = sourceRequests()
	src.IdleRequests = sum(src.IdleMethods)
	tfigs := make([]CostFigure, len(targets))
	for round := 1; round <= 2; round++ {
		sims.reset()
		edit(round)
		published := 0
		for polls := 0; published < c.Edits; polls++ {
			if polls == 20 {
				return nil, fmt.Errorf("%s: %d edits published %d events in %d polls", source, c.Edits, published, polls)
			}
			p, err := in.poll(ctx, source)
			if err != nil {
				return nil, err
			}
			published += p
		}
		src.Edits, src.EditMethods = c.Edits, sourceRequests()
		src.EditRequests = sum(src.EditMethods)
		for i, t := range targets {
			m := t.requests()
			if round == 1 {
				tfigs[i].FirstRound = float64(sum(m)) / float64(c.Edits)
				continue
			}
			tfigs[i] = CostFigure{Size: n, Vendor: t.vendor, Role: "target", From: vendor, Edits: c.Edits,
				EditMethods: m, EditRequests: sum(m), FirstRound: tfigs[i].FirstRound}
		}
	}
	return append([]CostFigure{src}, tfigs...), nil
}

// writes counts the write requests in a simulator's per-method counts.
func writes(m map[string]int, methods ...string) int {
	n := 0
	for _, k := range methods {
		n += m[k]
	}
	return n
}

var (
	ssWriteMethods = []string{"createLeads", "updateLeads", "updateLeadsV2"}
	ivWriteActions = []string{"contact.addOrUpdateLead", "contact.addOrUpdateContact", "batch.run"}
)

// costEcho runs a two-way initial sync, SharpSpring ⇄ iVvy, of leads made
// in SharpSpring, and counts the writes that change nothing: any write
// into SharpSpring, and the writes into iVvy once it held every lead,
// over polls of both pollers until neither publishes anything.
func costEcho(ctx context.Context, c CostConfig) (res EchoFigure, err error) {
	start := time.Now()
	res.Leads = c.EchoLeads
	sims, err := newCostSims()
	if err != nil {
		return res, err
	}
	defer sims.close()
	dir, err := os.MkdirTemp("", "crmsync-bench-*")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	t0 := time.Now().UTC().Truncate(time.Second)
	c.Say("cost: echo: seeding %s SharpSpring leads to carry to iVvy", thousands(float64(c.EchoLeads)))
	n := c.EchoLeads
	sims.ss.SeedLeads(n, func(i int) map[string]string {
		return map[string]string{"emailAddress": fmt.Sprintf("echo%d@example.com", i), "firstName": "Eve",
			"lastName": fmt.Sprintf("Echo%d", i), "mobilePhoneNumber": ssMobile(i)}
	}, func(i int) []sharpspringsim.SeedOption {
		at := t0.Add(-10*time.Minute + time.Duration(i)*(9*time.Minute/time.Duration(n)))
		return []sharpspringsim.SeedOption{sharpspringsim.SeedTimestamps(at, at)}
	})
	in, err := newCostInstance(ctx, c.Say, dir, sims, t0.Add(-15*time.Minute),
		[2]string{"sharpspring.lead", "ivvy.lead"}, [2]string{"ivvy.lead", "sharpspring.lead"})
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, in.close()) }()
	sims.reset()
	c.Say("cost: echo: initial sync")
	for polls, quiet := 0, 0; quiet < 2 || len(sims.iv.Leads()) < n; polls++ {
		if polls == 100 {
			return res, fmt.Errorf("iVvy holds %d of %d leads after %d polls", len(sims.iv.Leads()), n, polls)
		}
		p, err := in.poll(ctx, "sharpspring.lead")
		if err != nil {
			return res, err
		}
		if quiet++; p > 0 {
			quiet = 0
		}
	}
	if got := len(sims.iv.Leads()); got != n {
		return res, fmt.Errorf("iVvy holds %d leads, want %d", got, n)
	}
	ivMark := writes(sims.ivRequests(), ivWriteActions...)
	c.Say("cost: echo: iVvy holds every lead; polling both sides")
	for quiet := 0; quiet < 2; res.Polls++ {
		if res.Polls == 20 {
			return res, fmt.Errorf("the pollers still publish after %d rounds", res.Polls)
		}
		pi, err := in.poll(ctx, "ivvy.lead")
		if err != nil {
			return res, err
		}
		ps, err := in.poll(ctx, "sharpspring.lead")
		if err != nil {
			return res, err
		}
		if quiet++; pi+ps > 0 {
			quiet = 0
		}
	}
	res.SharpSpringWrites = writes(sims.ssRequests(), ssWriteMethods...)
	res.IVvyWrites = writes(sims.ivRequests(), ivWriteActions...) - ivMark
	res.Elapsed = time.Since(start)
	return res, nil
}
