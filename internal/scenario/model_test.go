package scenario

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// TestModel is the randomized convergence test: for each seed it generates
// a schedule (model.go) mixing leads made, edited and cleared on every side
// that is a source (LeadExec deliveries, retried deliveries among them;
// users in SharpSpring and iVvy), clients made and edited in SharpSpring
// and LeadExec, vendor faults (5xx bursts, timeouts, writes applied but
// unanswered or applied late, malformed answers, rate-limit answers) and
// restarts of the pipeline; plays it against the World; waits until the
// pipeline is idle and the targets stay unchanged over three rounds of
// every poller; and compares every record on every side with the
// reference model. A failure names the seed, the operations of each record
// that differs and the per-field differences.
//
// In CI it plays 10 seeds of 30 leads and 3 clients against an in-process
// instance stopped and started once or twice per seed. Environment:
//
//	CRMSYNC_MODEL_SEEDS=200     how many seeds (1..N)
//	CRMSYNC_MODEL_RECORDS=500   leads per seed (clients: a tenth)
//	CRMSYNC_MODEL_SEED=1234     replay exactly this seed
//	CRMSYNC_MODEL_LOG=FILE      append the instance's debug log to FILE
//	                            (in-process or child)
//	CRMSYNC_MODEL_KEEP=DIR      keep each seed's world (state, stream,
//	                            config) in DIR/seed-N after the run
//	CRMSYNC_MODEL_PROCESS=child run 'crmsync run' as a child process,
//	                            SIGKILLed at each restart (the default
//	                            once SEEDS or RECORDS is set); inprocess
//	                            stops and starts an in-process instance
//
// A seed also replays with -run 'TestModel/seed=1234' when it is among the
// seeds played. The schedule depends on the seed alone; only the
// pipeline's own timing varies between runs.
func TestModel(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a whole schedule per seed")
	}
	seeds := envInt(t, "CRMSYNC_MODEL_SEEDS", 10)
	records := envInt(t, "CRMSYNC_MODEL_RECORDS", 30)
	child := os.Getenv("CRMSYNC_MODEL_SEEDS") != "" || os.Getenv("CRMSYNC_MODEL_RECORDS") != ""
	switch p := os.Getenv("CRMSYNC_MODEL_PROCESS"); p {
	case "":
	case "child":
		child = true
	case "inprocess":
		child = false
	default:
		t.Fatalf("CRMSYNC_MODEL_PROCESS=%q: want child or inprocess", p)
	}
	list := make([]uint64, 0, seeds)
	if s := os.Getenv("CRMSYNC_MODEL_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CRMSYNC_MODEL_SEED=%q: want a number", s)
		}
		list = append(list, n)
	} else {
		for i := range seeds {
			list = append(list, uint64(i+1))
		}
	}
	for _, seed := range list {
		// Seeds play one after the other: each has a whole pipeline and
		// four simulators to itself, so that a seed's timing is its own.
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			size := scheduleSize{Leads: records, Clients: max(2, records/10), Rounds: 5 + records/100,
				Faults: 2 + records/100, Kills: 1 + int(seed%2) + records/250}
			playModel(t, generate(seed, size), child)
		})
	}
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// TestGenerateIsDeterministic: a seed replays exactly, and different seeds
// give different schedules.
func TestGenerateIsDeterministic(t *testing.T) {
	size := scheduleSize{Leads: 40, Clients: 4, Rounds: 6, Faults: 2, Kills: 2}
	a, b, c := generate(42, size), generate(42, size), generate(43, size)
	render := func(s schedule) string {
		var sb strings.Builder
		for _, op := range s.Ops {
			sb.WriteString(op.String() + "\n")
		}
		return fmt.Sprint(s.Leads, s.Clients) + sb.String()
	}
	if render(a) != render(b) {
		t.Fatal("the same seed gave two schedules")
	}
	if render(a) == render(c) {
		t.Fatal("seeds 42 and 43 gave the same schedule")
	}
	kinds := map[opKind]int{}
	for _, op := range a.Ops {
		kinds[op.Kind]++
	}
	for _, k := range []opKind{opLeadCreate, opLeadEdit, opClientCreate, opClientEdit, opFaults, opRestart} {
		if kinds[k] == 0 {
			t.Errorf("seed 42 has no %s: %v", k, kinds)
		}
	}
}

// TestModelRules checks the reference model's own rules on a hand-made
// schedule.
func TestModelRules(t *testing.T) {
	m := newModel(schedule{Leads: []modelLeadID{{Origin: sideLeadExec, UID: 1, Email: "a@example.com"}}})
	m.apply(modelOp{Kind: opLeadCreate, Side: sideLeadExec, Fields: map[string]string{mFirst: "Ann", mCity: "Austin", mColor: "teal"}})
	m.apply(modelOp{Kind: opLeadEdit, Side: sideSharpSpring, Fields: map[string]string{mFirst: "Anne", mColor: ""}})
	sent := m.apply(modelOp{Kind: opLeadEdit, Side: sideLeadExec, Fields: map[string]string{mCity: "Waco"}})
	// LeadExec sends its whole lead, with its own older first name: no
	// change to the first name, so SharpSpring's newer edit stands.
	if sent[mFirst] != "Ann" || sent[mCity] != "Waco" || sent[mColor] != "teal" {
		t.Fatalf("LeadExec sends %v", sent)
	}
	l := m.leads[0]
	if l.now[mFirst] != "Anne" || l.now[mCity] != "Waco" || l.now[mColor] != "" {
		t.Fatalf("newest per field: %v", l.now)
	}
	// LeadExec clearing what it holds is a change again.
	m.apply(modelOp{Kind: opLeadEdit, Side: sideLeadExec, Fields: map[string]string{mColor: ""}})
	m.apply(modelOp{Kind: opLeadEdit, Side: sideIVvy, Fields: map[string]string{mColor: "red"}})
	m.apply(modelOp{Kind: opLeadEdit, Side: sideLeadExec, Fields: map[string]string{mColor: ""}})
	if l.now[mColor] != "red" {
		t.Fatalf("a clear LeadExec already sent is no change: %v", l.now)
	}
	// A name set in Getlead stays until a first or last name change.
	m.apply(modelOp{Kind: opLeadEdit, Side: sideGetlead, Fields: map[string]string{mGetleadName: "Gl"}})
	m.apply(modelOp{Kind: opLeadEdit, Side: sideSharpSpring, Fields: map[string]string{mCity: "Erie"}})
	if got := l.getleadName(); got != "Gl" {
		t.Fatalf("getlead name %q, want Gl", got)
	}
	m.apply(modelOp{Kind: opLeadEdit, Side: sideIVvy, Fields: map[string]string{mLast: "Cho"}})
	if got := l.getleadName(); got != "Anne Cho" {
		t.Fatalf("getlead name %q, want %q", got, "Anne Cho")
	}
	if len(l.history) != 8 {
		t.Fatalf("history has %d states, want 8", len(l.history))
	}
}

// modelPipeline is the instance under test, restartable.
type modelPipeline interface {
	Pipeline
	restart(ctx context.Context) error
	stop()
	logTail() string
	// failedStarts counts starts that failed and were tried again.
	failedStarts() int
}

// roundGap separates two rounds: SharpSpring and iVvy stamp changes to
// the second, so two changes of one record are at least a second apart to
// be ordered at all.
const roundGap = 1100 * time.Millisecond

// playModel plays s against a new World and pipeline and compares the
// result with the model.
func playModel(t *testing.T, s schedule, child bool) {
	timeout := 4*time.Minute + time.Duration(len(s.Leads))*200*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if keep := os.Getenv("CRMSYNC_MODEL_KEEP"); keep != "" {
		// The world (state, stream, configuration) stays for a look after
		// the run, failed or not.
		root = filepath.Join(keep, fmt.Sprintf("seed-%d", s.Seed))
		if err := os.RemoveAll(root); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(root, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: keeping the world in %s", s.Seed, root)
	}
	w, err := New(root, Options{Leads: 1, Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	cfg := underFaults(t, w)
	// The pipeline keeps its address over restarts (LeadExec delivers to
	// it), so it is picked up front; another process may take a free port
	// before the first start listens on it, and then another is picked.
	var p modelPipeline
	for try := 0; ; try++ {
		if child {
			p, err = startChild(ctx, t, w, addr)
		} else {
			p, err = startInProcess(ctx, t, cfg)
		}
		if err == nil || try == 4 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		if addr, err = FreeAddr(); err != nil {
			break
		}
		cfg.HTTP.Listen = addr
	}
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()

	d := &driver{t: t, w: w, p: p, m: newModel(s)}
	if err := d.senders(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := d.play(ctx); err != nil {
		d.fail(err)
		return
	}
	w.SS.SetFaults(sharpspringsim.Faults{})
	w.IV.SetFaults(ivvysim.Faults{})
	w.GL.SetFaults(getleadsim.Faults{})
	if err := d.quiesce(ctx); err != nil {
		d.fail(fmt.Errorf("no quiescence: %w", err))
		return
	}
	if diffs := d.diff(d.snapshot(), nil); len(diffs) > 0 {
		d.fail(errors.New("after quiescence the targets differ from the model"))
		return
	}
	t.Logf("seed %d: %d leads, %d clients, %d operations, %d restarts (%d failed starts tried again): converged in %s",
		s.Seed, len(s.Leads), len(s.Clients), len(s.Ops), d.restarts, p.failedStarts(), time.Since(began).Round(100*time.Millisecond))
}

// driver applies a schedule to the World.
type driver struct {
	t        *testing.T
	w        *World
	p        modelPipeline
	m        *model
	send     []*leadexecsim.Sender
	restarts int
	failed   []string // records that failed to settle, for the report
}

func (d *driver) senders() error {
	hook := d.p.HookURL() + d.w.Config.LeadExec.Webhook.Path
	for _, f := range []leadexecsim.Format{leadexecsim.FormatForm, leadexecsim.FormatJSON, leadexecsim.FormatQuery} {
		s, err := leadexecsim.NewSender(leadexecsim.Delivery{URL: hook, Format: f, BasicUser: d.w.user, BasicPassword: d.w.pass,
			ResponseSearch: `"status":"success"`, MaxRetries: 5, RetryDelay: 250 * time.Millisecond})
		if err != nil {
			return err
		}
		d.send = append(d.send, s)
	}
	return nil
}

// play applies every round of the schedule. Before a round it waits until
// the records that round changes on another side than before hold their
// model state everywhere, and until a second has passed since then and
// since the round before.
func (d *driver) play(ctx context.Context) error {
	ops := d.m.s.Ops
	var lastRound time.Time
	for i := 0; i < len(ops); {
		j := i
		for j < len(ops) && ops[j].Round == ops[i].Round {
			j++
		}
		round := ops[i:j]
		var leads, clients []int
		for _, op := range round {
			if !op.Settle {
				continue
			}
			if op.Kind == opClientEdit {
				clients = append(clients, op.Rec)
			} else {
				leads = append(leads, op.Rec)
			}
		}
		if len(leads)+len(clients) > 0 {
			if err := d.settle(ctx, leads, clients); err != nil {
				return fmt.Errorf("before round %d: %w", round[0].Round, err)
			}
			lastRound = time.Now()
		}
		if err := waitUntil(ctx, func() bool { return time.Since(lastRound) >= roundGap }); err != nil {
			return err
		}
		lastRound = time.Now()
		d.t.Logf("round %d starts at %s", round[0].Round, lastRound.UTC().Format("15:04:05.000"))
		for _, op := range round {
			if err := d.apply(ctx, op); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
		}
		i = j
	}
	return nil
}

// settle waits until the given records hold their model state everywhere,
// and until Getlead holds no write back to apply late. It does not wait
// for the pipeline to have nothing in flight: targets can hold their
// values before crmsync settled the writes that put them there (a process
// stopped between a write and its acknowledgement handles the batch again
// once it is back), and a user's edit made in that window must survive the
// batch handled again. A write the vendor holds and applies after the
// client gave up is a change still on its way, which a user's edit of the
// same record races: Getlead edits are never read back, and no Getlead
// API lets a write be made conditional, so crmsync cannot win that race
// (see pipeline.InDoubtError).
func (d *driver) settle(ctx context.Context, leads, clients []int) error {
	wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last []recordDiff
	err := waitUntil(wait, func() bool {
		last = d.diff(d.snapshot(), &only{leads: leads, clients: clients})
		return len(last) == 0 && d.w.GL.HeldWrites() == 0
	})
	if err != nil {
		for _, rd := range last {
			d.failed = append(d.failed, rd.name)
		}
		return fmt.Errorf("%d record(s) did not settle: %w", len(last), err)
	}
	return nil
}

// apply applies one operation to the World and the model.
func (d *driver) apply(ctx context.Context, op modelOp) error {
	w := d.w
	switch op.Kind {
	case opFaults:
		f := op.Faults
		w.SS.SetFaults(sharpspringsim.Faults{ServerErrorRate: f.ServerError, ServerErrorBurst: f.Burst, TimeoutRate: f.Timeout,
			DropAfterCommitRate: f.DropAfterCommit, MalformedRate: f.Malformed, RateLimitRate: f.RateLimit, Seed: f.Seed})
		w.IV.SetFaults(ivvysim.Faults{ServerErrorRate: f.ServerError, ServerErrorBurst: f.Burst, TimeoutRate: f.Timeout,
			DropAfterCommitRate: f.DropAfterCommit, MalformedRate: f.Malformed, Seed: f.Seed})
		w.GL.SetFaults(getleadsim.Faults{ServerErrorRate: f.ServerError, ServerErrorBurst: f.Burst, TimeoutRate: f.Timeout,
			DropAfterCommitRate: f.DropAfterCommit, MalformedRate: f.Malformed, RateLimitRate: f.RateLimit,
			LateApplyRate: f.LateApply, Seed: f.Seed})
		return nil
	case opRestart:
		d.restarts++
		d.t.Logf("%s: restarting at %s", op, time.Now().UTC().Format("15:04:05.000"))
		err := d.p.restart(ctx)
		d.t.Logf("%s: restarted at %s", op, time.Now().UTC().Format("15:04:05.000"))
		return err
	}
	sent := d.m.apply(op)
	switch op.Kind {
	case opLeadCreate, opLeadEdit, opLeadRedeliver:
		l := d.m.leads[op.Rec]
		switch op.Side {
		case sideLeadExec:
			fields := map[string]string{"Email": l.Email, "PrimaryPhone": l.Phone, "State": "TX", "Zip": "73301"}
			for f, v := range sent {
				fields[d.leadExecName(f)] = v
			}
			s := d.send[op.Rec%len(d.send)]
			if r := s.Deliver(ctx, leadexecsim.Lead{UID: l.UID, Fields: fields}); !r.Delivered {
				return fmt.Errorf("LeadExec could not deliver lead %d (last status %d)", l.UID, r.LastStatus)
			}
		case sideSharpSpring:
			fields := map[string]string{}
			for f, v := range op.Fields {
				fields[d.sharpSpringName(f)] = v
			}
			if op.Kind == opLeadCreate {
				fields["emailAddress"], fields["phoneNumber"], fields["state"], fields["zipcode"] = l.Email, l.Phone, "TX", "73301"
				w.SS.SeedLead(fields)
				return nil
			}
			got, ok := w.SS.LeadByEmail(l.Email)
			if !ok || !w.SS.EditLead(got.ID, fields) {
				return errors.New("SharpSpring does not hold the lead")
			}
		case sideGetlead:
			g, ok := w.GL.LeadByPhone(e164(l.Phone))
			if !ok || !w.GL.RenameLead(g.ID, op.Fields[mGetleadName]) {
				return errors.New("Getlead does not hold the lead")
			}
		case sideIVvy:
			ls := w.IV.LeadsByEmail(l.Email)
			if len(ls) != 1 {
				return fmt.Errorf("iVvy holds the lead %d times", len(ls))
			}
			contact := map[string]string{}
			custom := map[int64]string{}
			for f, v := range op.Fields {
				if ivvyContactFields[f] {
					contact[f] = v
				} else if id := d.ivvyID(f); id != 0 {
					custom[id] = v
				}
			}
			if len(contact) > 0 {
				w.IV.EditContact(ls[0].ContactID, func(c *ivvysim.Contact) {
					if v, ok := contact[mFirst]; ok {
						c.FirstName = v
					}
					if v, ok := contact[mLast]; ok {
						c.LastName = v
					}
				})
			}
			if len(custom) > 0 {
				w.IV.EditLead(ls[0].ID, func(x *ivvysim.Lead) {
					for id, v := range custom {
						x.CustomFields[id] = v
					}
				})
			}
		}
	case opClientCreate, opClientEdit:
		c := d.m.clients[op.Rec]
		switch op.Side {
		case sideSharpSpring:
			if op.Kind == opClientCreate {
				f := map[string]string{"companyName": c.Company, "salesPhone": c.Phone, "country": "US"}
				for k, v := range op.Fields {
					f[ssClientField[k]] = v
				}
				w.SS.SeedClient(w.account, f)
				return nil
			}
			id, n := int64(0), 0
			for _, x := range w.SS.Clients() {
				if x.Active && x.Fields["companyName"] == c.Company {
					id, n = x.ID, n+1
				}
			}
			if n != 1 {
				return fmt.Errorf("SharpSpring holds client %q %d times", c.Company, n)
			}
			f := map[string]string{}
			for k, v := range op.Fields {
				f[ssClientField[k]] = v
			}
			w.SS.SetClientFields(id, f)
		case sideLeadExec:
			if op.Kind == opClientCreate {
				f := map[int64]string{leCompany: c.Company, lePhone: c.Phone, leEmail: c.Email}
				for k, v := range op.Fields {
					f[leClientField[k]] = v
				}
				w.LE.AddClient(leadexecsim.Client{Username: fmt.Sprintf("model-buyer-%d", op.Rec), Fields: f})
				return nil
			}
			var uids []int64
			for _, x := range w.LE.Clients() {
				if x.Fields[leCompany] == c.Company {
					uids = append(uids, x.ClientUID)
				}
			}
			if len(uids) != 1 {
				return fmt.Errorf("LeadExec holds client %q %d times", c.Company, len(uids))
			}
			for k, v := range op.Fields {
				if err := w.LE.SetClientField(uids[0], leClientField[k], v); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var (
	ssClientField = map[string]string{"street": "streetAddress", "city": "city", "state": "state", "zip": "zipCode"}
	leClientField = map[string]int64{"street": leStreet, "city": leCity, "state": leState, "zip": leZip}
)

// The vendors' names of the model's lead fields; the custom ones are named
// by the World's catalog (favorite_color first, budget third).
func (d *driver) leadExecName(f string) string {
	switch f {
	case mFirst:
		return "FirstName"
	case mLast:
		return "LastName"
	case mCity:
		return "City"
	case mColor:
		return d.w.leCustom[0]
	case mBudget:
		return d.w.leCustom[2]
	}
	panic("model: no LeadExec name for " + f)
}

func (d *driver) sharpSpringName(f string) string {
	switch f {
	case mFirst:
		return "firstName"
	case mLast:
		return "lastName"
	case mCity:
		return "city"
	case mColor:
		return d.w.Config.Catalog[0].SharpSpring
	case mBudget:
		return d.w.Config.Catalog[2].SharpSpring
	}
	panic("model: no SharpSpring name for " + f)
}

func (d *driver) ivvyID(f string) int64 {
	var s string
	switch f {
	case mColor:
		s = d.w.Config.Catalog[0].IVvy
	case mBudget:
		s = d.w.Config.Catalog[2].IVvy
	default:
		return 0
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// worldSnapshot is what every simulator holds, read from its memory.
type worldSnapshot struct {
	ss        map[string][]map[string]string // email → active SharpSpring leads (vendor field names, null as "")
	iv        map[string][]map[string]string // email → iVvy leads (model field names)
	gl        map[string]getleadsim.Lead     // E.164 → Getlead lead
	glCount   int
	le        map[string][]map[string]string // email → leads LeadExec took (LeadExec field names)
	ssClients map[string][]map[string]string // company → active SharpSpring clients (model field names)
	leClients map[string][]map[string]string // company → LeadExec clients (model field names)
	ssCount   int
	ivCount   int
	leCount   int
}

func (d *driver) snapshot() *worldSnapshot {
	w := d.w
	s := &worldSnapshot{ss: map[string][]map[string]string{}, iv: map[string][]map[string]string{}, gl: map[string]getleadsim.Lead{},
		le: map[string][]map[string]string{}, ssClients: map[string][]map[string]string{}, leClients: map[string][]map[string]string{}}
	for _, l := range w.SS.Leads() {
		if !l.Active {
			continue
		}
		f := map[string]string{}
		for k, v := range l.Fields {
			if v != nil {
				f[k] = *v
			} else {
				f[k] = ""
			}
		}
		e := strings.ToLower(f["emailAddress"])
		s.ss[e] = append(s.ss[e], f)
		s.ssCount++
	}
	for _, l := range w.IV.Leads() {
		c, _ := w.IV.ContactByID(l.ContactID)
		f := map[string]string{mFirst: c.FirstName, mLast: c.LastName}
		for _, m := range []string{mColor, mBudget} {
			f[m] = l.CustomFields[d.ivvyID(m)]
		}
		e := strings.ToLower(c.Email)
		s.iv[e] = append(s.iv[e], f)
		s.ivCount++
	}
	for _, l := range w.GL.Leads() {
		s.glCount++
		if len(l.Phones) > 0 {
			s.gl[l.Phones[0]] = l
		}
	}
	for _, l := range w.LE.Leads() {
		e := strings.ToLower(l.Fields["Email"])
		s.le[e] = append(s.le[e], l.Fields)
		s.leCount++
	}
	for _, c := range w.SS.Clients() {
		if !c.Active {
			continue
		}
		f := map[string]string{}
		for k, v := range ssClientField {
			f[k] = c.Fields[v]
		}
		s.ssClients[c.Fields["companyName"]] = append(s.ssClients[c.Fields["companyName"]], f)
	}
	for _, c := range w.LE.Clients() {
		f := map[string]string{}
		for k, v := range leClientField {
			f[k] = c.Fields[v]
		}
		s.leClients[c.Fields[leCompany]] = append(s.leClients[c.Fields[leCompany]], f)
	}
	return s
}

// fingerprint identifies a snapshot's contents.
func (s *worldSnapshot) fingerprint() string {
	b, _ := json.Marshal([]any{s.ss, s.iv, s.gl, s.le, s.ssClients, s.leClients}) // maps marshal sorted
	h := sha256.Sum256(b)
	return string(h[:])
}

// recordDiff is one record that differs from the model.
type recordDiff struct {
	name  string
	ops   []modelOp
	diffs []string
}

// only restricts diff to some records; nil is every record and the counts.
type only struct{ leads, clients []int }

// diff compares the snapshot with the model.
func (d *driver) diff(s *worldSnapshot, o *only) []recordDiff {
	var out []recordDiff
	leads, clients := make([]int, 0, len(d.m.leads)), make([]int, 0, len(d.m.clients))
	if o != nil {
		leads, clients = o.leads, o.clients
	} else {
		for i, l := range d.m.leads {
			if l.made {
				leads = append(leads, i)
			}
		}
		for i, c := range d.m.clients {
			if c.made {
				clients = append(clients, i)
			}
		}
	}
	for _, i := range leads {
		l := d.m.leads[i]
		if ds := d.leadDiff(l, s); len(ds) > 0 {
			out = append(out, recordDiff{name: fmt.Sprintf("lead %d (%s, made in %s)", i, l.Email, l.Origin), ops: l.ops, diffs: ds})
		}
	}
	for _, i := range clients {
		c := d.m.clients[i]
		if ds := clientDiff(c, s); len(ds) > 0 {
			out = append(out, recordDiff{name: fmt.Sprintf("client %d (%s, made in %s)", i, c.Company, c.Origin), ops: c.ops, diffs: ds})
		}
	}
	if o == nil {
		made := 0
		leMade := 0
		for _, l := range d.m.leads {
			if l.made {
				made++
				if l.Origin != sideLeadExec {
					leMade++
				}
			}
		}
		var extra []string
		for name, got := range map[string][2]int{"sharpspring": {s.ssCount, made}, "ivvy": {s.ivCount, made}, "getlead": {s.glCount, made}, "leadexec": {s.leCount, leMade}} {
			if got[0] != got[1] {
				extra = append(extra, fmt.Sprintf("%s holds %d leads, want %d", name, got[0], got[1]))
			}
		}
		sort.Strings(extra)
		if len(extra) > 0 {
			out = append(out, recordDiff{name: "lead counts", diffs: extra})
		}
	}
	return out
}

func (d *driver) leadDiff(l *modelLead, s *worldSnapshot) []string {
	var ds []string
	email := strings.ToLower(l.Email)
	ss := s.ss[email]
	if len(ss) != 1 {
		ds = append(ds, fmt.Sprintf("sharpspring holds it %d times", len(ss)))
	} else {
		for _, f := range modelLeadFields {
			if got, want := ss[0][d.sharpSpringName(f)], l.now[f]; got != want {
				ds = append(ds, fmt.Sprintf("sharpspring %s = %q, want %q", f, got, want))
			}
		}
	}
	iv := s.iv[email]
	if len(iv) != 1 {
		ds = append(ds, fmt.Sprintf("ivvy holds it %d times", len(iv)))
	} else {
		for _, f := range ivvyFields {
			if got, want := iv[0][f], l.now[f]; got != want {
				ds = append(ds, fmt.Sprintf("ivvy %s = %q, want %q", f, got, want))
			}
		}
	}
	if g, ok := s.gl[e164(l.Phone)]; !ok {
		ds = append(ds, "getlead does not hold it")
	} else {
		if want := l.getleadName(); g.Name != want {
			ds = append(ds, fmt.Sprintf("getlead name = %q, want %q", g.Name, want))
			var names []string
			for _, n := range g.NameHistory {
				names = append(names, fmt.Sprintf("%s %s %q", n.At.Format("15:04:05.000"), n.By, n.Name))
			}
			ds = append(ds, "getlead names, oldest first: "+strings.Join(names, "; "))
		}
		if !strings.EqualFold(g.Email, l.Email) {
			ds = append(ds, fmt.Sprintf("getlead email = %q, want %q", g.Email, l.Email))
		}
	}
	le := s.le[email]
	switch {
	case l.Origin == sideLeadExec && len(le) > 0:
		ds = append(ds, fmt.Sprintf("LeadExec's own lead was posted back to it %d times", len(le)))
	case l.Origin != sideLeadExec && len(le) != 1:
		ds = append(ds, fmt.Sprintf("leadexec holds it %d times, want once", len(le)))
	case l.Origin != sideLeadExec:
		// Insert only: LeadExec holds one of the states the lead went
		// through, as first taken.
		got := map[string]string{}
		for _, f := range leadExecFields {
			got[f] = le[0][d.leadExecName(f)]
		}
		match := false
		for _, h := range l.history {
			same := true
			for _, f := range leadExecFields {
				same = same && h[f] == got[f]
			}
			match = match || same
		}
		if !match {
			ds = append(ds, fmt.Sprintf("leadexec holds %v, none of the states the lead went through", got))
		}
	}
	return ds
}

func clientDiff(c *modelClient, s *worldSnapshot) []string {
	var ds []string
	for _, side := range []struct {
		name string
		got  []map[string]string
	}{{"sharpspring", s.ssClients[c.Company]}, {"leadexec", s.leClients[c.Company]}} {
		if len(side.got) != 1 {
			ds = append(ds, fmt.Sprintf("%s holds it %d times", side.name, len(side.got)))
			continue
		}
		for _, f := range modelClientFields {
			if got, want := side.got[0][f], c.now[f]; got != want {
				ds = append(ds, fmt.Sprintf("%s %s = %q, want %q", side.name, f, got, want))
			}
		}
	}
	return ds
}

// quiesce waits until the pipeline is idle and the targets stay the same
// while every poller (SharpSpring and iVvy leads, both client pollers)
// polls three more times.
func (d *driver) quiesce(ctx context.Context) error {
	wait, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	polls := func() [4]int {
		ss, iv := d.w.SS.Stats().ByMethod, d.w.IV.Stats().ByAction
		return [4]int{ss["getLeadsDateRange"], iv["crm.getLeadList"], ss["getClients"], d.w.LE.RequestCount(leadexecsim.EndpointGetClientList)}
	}
	var last string
	var base [4]int
	return waitUntil(wait, func() bool {
		if !d.p.Idle(wait) {
			last = ""
			return false
		}
		fp := d.snapshot().fingerprint()
		if fp != last {
			last, base = fp, polls()
			return false
		}
		now := polls()
		for i := range now {
			if now[i] < base[i]+3 {
				return false
			}
		}
		return true
	})
}

// fail reports the seed, each record that differs with its operations and
// per-field differences, and the end of the pipeline's log.
func (d *driver) fail(err error) {
	t := d.t
	t.Helper()
	diffs := d.diff(d.snapshot(), nil)
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %v\nreplay: CRMSYNC_MODEL_SEED=%d CRMSYNC_MODEL_RECORDS=%d go test ./internal/scenario -run TestModel -v\n",
		d.m.s.Seed, err, d.m.s.Seed, len(d.m.s.Leads))
	fmt.Fprintf(&b, "schedule-wide operations:\n")
	for _, op := range d.m.s.Ops {
		if op.Kind == opFaults || op.Kind == opRestart {
			fmt.Fprintf(&b, "  %s\n", op)
		}
	}
	if len(d.failed) > 0 {
		fmt.Fprintf(&b, "did not settle: %s\n", strings.Join(d.failed, "; "))
	}
	fmt.Fprintf(&b, "%d record(s) differ from the model:\n", len(diffs))
	for i, rd := range diffs {
		if i == 20 {
			fmt.Fprintf(&b, "… and %d more\n", len(diffs)-i)
			break
		}
		fmt.Fprintf(&b, "%s\n", rd.name)
		for _, op := range rd.ops {
			fmt.Fprintf(&b, "    op %s\n", op)
		}
		for _, x := range rd.diffs {
			fmt.Fprintf(&b, "    diff: %s\n", x)
		}
	}
	fmt.Fprintf(&b, "pipeline log (end):\n%s", d.p.logTail())
	t.Fatal(b.String())
}

// inProcessModel is an instance in this process; a restart stops it (as
// SIGTERM would) and builds a new one on the same state, bus and address.
type inProcessModel struct {
	failed int
	files  []*os.File
	cfg    *config.Config
	logs   *testenv.Log
	a      *app.App
	cancel context.CancelFunc
	done   chan error
}

func startInProcess(ctx context.Context, t *testing.T, cfg *config.Config) (*inProcessModel, error) {
	p := &inProcessModel{cfg: cfg, logs: &testenv.Log{}}
	return p, p.start(ctx)
}

// supervise starts an instance as a process supervisor would (systemd's
// Restart=on-failure): a start that fails, say because a vendor misbehaves
// while the instance checks its configuration against it, is tried again a
// second later, up to five times. Each failed start is noted in the log.
func supervise(ctx context.Context, note func(string), start func() error) error {
	var err error
	for range 5 {
		if err = start(); err == nil {
			return nil
		}
		note("start failed (the supervisor starts it again): " + err.Error())
		if !pipeline.Sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
	return err
}

func (p *inProcessModel) start(ctx context.Context) error {
	return supervise(ctx, func(s string) { p.failed++; _, _ = p.logs.WriteString(s + "\n") }, func() error { return p.startOnce(ctx) })
}

func (p *inProcessModel) failedStarts() int { return p.failed }

func (p *inProcessModel) startOnce(ctx context.Context) error {
	var w io.Writer = p.logs
	lvl := slog.LevelWarn
	// CRMSYNC_MODEL_LOG=FILE appends the in-process instance's whole log,
	// debug lines included, to FILE.
	if name := os.Getenv("CRMSYNC_MODEL_LOG"); name != "" {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		p.files = append(p.files, f)
		w, lvl = io.MultiWriter(p.logs, f), slog.LevelDebug
	}
	a, err := app.New(ctx, p.cfg, slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})))
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	p.a, p.cancel, p.done = a, cancel, make(chan error, 1)
	go func() { p.done <- a.Run(runCtx) }()
	return nil
}

func (p *inProcessModel) HookURL() string { return InProcess{App: p.a}.HookURL() }

func (p *inProcessModel) Idle(ctx context.Context) bool { return InProcess{App: p.a}.Idle(ctx) }

func (p *inProcessModel) restart(ctx context.Context) error {
	p.stop()
	return p.start(ctx)
}

func (p *inProcessModel) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	if err := <-p.done; err != nil {
		_, _ = p.logs.WriteString("run: " + err.Error() + "\n")
	}
	p.cancel = nil
	for _, f := range p.files {
		_ = f.Close()
	}
	p.files = nil
}

func (p *inProcessModel) logTail() string { return tail(p.logs.String(), 20000) }

// childModel is 'crmsync run' as a child process; a restart SIGKILLs it
// and starts it again on the same configuration.
type childModel struct {
	failed                      int
	exe, cfgPath, addr, logPath string
	env                         []string
	cmd                         *exec.Cmd
	exited                      chan struct{}
}

var (
	modelBinOnce sync.Once
	modelBin     string
	modelBinErr  error
)

// crmsyncBinary builds cmd/crmsync once per test process.
func crmsyncBinary(t *testing.T) (string, error) {
	modelBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crmsync-model-*")
		if err != nil {
			modelBinErr = err
			return
		}
		modelBin = filepath.Join(dir, "crmsync")
		if out, err := exec.Command("go", "build", "-o", modelBin, "../../cmd/crmsync").CombinedOutput(); err != nil {
			modelBinErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	return modelBin, modelBinErr
}

func startChild(ctx context.Context, t *testing.T, w *World, addr string) (*childModel, error) {
	exe, err := crmsyncBinary(t)
	if err != nil {
		return nil, err
	}
	logFile := os.Getenv("CRMSYNC_MODEL_LOG")
	if logFile != "" {
		w.Config.Log.Level = "debug"
	}
	b, env, err := w.ChildConfig()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	c := &childModel{exe: exe, cfgPath: filepath.Join(dir, "crmsync.yaml"), addr: addr, logPath: filepath.Join(dir, "run.log"),
		env: append(os.Environ(), env...)}
	if logFile != "" {
		c.logPath = logFile
	}
	if err := os.WriteFile(c.cfgPath, b, 0o600); err != nil {
		return nil, err
	}
	return c, c.start(ctx)
}

func (c *childModel) start(ctx context.Context) error {
	return supervise(ctx, func(s string) {
		c.failed++
		if f, err := os.OpenFile(c.logPath, os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
			_, _ = f.WriteString(s + "\n")
			_ = f.Close()
		}
	}, func() error { return c.startOnce(ctx) })
}

func (c *childModel) failedStarts() int { return c.failed }

func (c *childModel) startOnce(ctx context.Context) error {
	f, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.exe, "run", "--config", c.cfgPath)
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = f.Close(); close(exited) }()
	c.cmd, c.exited = cmd, exited
	ready, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = waitUntil(ready, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		resp, err := http.Get(c.HookURL() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	select {
	case <-exited:
		return errors.New("crmsync run exited before it was ready (see its log)")
	default:
	}
	return err
}

func (c *childModel) HookURL() string { return "http://" + c.addr }

func (c *childModel) Idle(ctx context.Context) bool { return StatusIdle(ctx, c.HookURL()) }

func (c *childModel) restart(ctx context.Context) error {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
	return c.start(ctx)
}

func (c *childModel) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

func (c *childModel) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	return tail(string(b), 20000)
}
