package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/checkpoints/natskv"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/scenario"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/natsbus"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const chaosSynopsis = `chaos [--leads N] [--kills K] [--instances I] [--seed N] [--keep] [--log-level L] [-v]

The crash test. Runs 'crmsync run' as a child process against the
simulators (the demo's eight routes: LeadExec → SharpSpring and Getlead,
SharpSpring ⇄ iVvy, SharpSpring → Getlead and LeadExec, agency clients ⇄
LeadExec clients) while LeadExec delivers --leads
leads and users edit leads in iVvy, and SIGKILLs the child --kills times at
random moments: at random times, while a SharpSpring write is in flight, and
while a poller reads iVvy. Each time it starts the child again on the same
data directory. At the end it compares every target with its sources through
the vendors' APIs and prints one line.

With --instances above 1, that many 'crmsync run' processes share one NATS
server started by the test (state.kind nats, leases of 3s): LeadExec
delivers to one address that spreads the deliveries over every live
instance, and each kill picks an instance at random, so pollers and
routes fail over between instances. The line then also says instances=<n>
and max_failover=<d>, the longest time from a kill until every leased
poller and route ran again on a live instance (more than 30s fails):

  chaos: ok kills=<n> leads=<n> deliveries=<n> lost=0 duplicates=0 mismatches=0 missed_deliveries=<0|1> max_sharpspring_per_second=<n> elapsed=<d>

(missed_deliveries: leads the LeadExec safety net published as never
delivered, over every restart; the test drops exactly one delivery, so
more than one is a false missed delivery and fails)

or "chaos: FAILED ..." and exit status 1.`

func runChaos(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("chaos", chaosSynopsis, stderr)
	leads := fs.Int("leads", 2000, "leads LeadExec delivers")
	kills := fs.Int("kills", 20, "times the child is SIGKILLed")
	seed := fs.Uint64("seed", 0, "seed for the kill schedule and the leads (0: random)")
	keep := fs.Bool("keep", false, "keep the data directory (state, stream, the child's logs) and print its path")
	logLevel := fs.String("log-level", "info", "the children's log level (debug shows every record written or left out, and why)")
	verbose := fs.Bool("v", false, "report progress on stderr")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	instances := fs.Int("instances", 1, "crmsync instances sharing one NATS cluster and its state")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *leads < 1 || *kills < 0 || *instances < 1 {
		fmt.Fprintln(stderr, "chaos: --leads and --instances must be at least 1 and --kills not negative")
		return 2
	}
	if *seed == 0 {
		*seed = rand.Uint64()
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	say := func(string, ...any) {}
	if *verbose {
		say = func(format string, args ...any) { fmt.Fprintf(stderr, "chaos: "+format+"\n", args...) }
	}
	start := time.Now()
	res, err := chaos(ctx, chaosOptions{leads: *leads, kills: *kills, instances: *instances, seed: *seed, keep: *keep, logLevel: *logLevel, say: say})
	elapsed := time.Since(start).Round(time.Millisecond)
	if err != nil {
		fmt.Fprintf(stdout, "chaos: FAILED seed=%d kills=%d error=%q elapsed=%s\n", *seed, res.kills, err.Error(), elapsed)
		return 1
	}
	status := "ok"
	if !res.OK() {
		status = "FAILED"
	}
	inst := ""
	if *instances > 1 {
		inst = fmt.Sprintf(" instances=%d max_failover=%s", *instances, res.maxFailover.Round(100*time.Millisecond))
	}
	fmt.Fprintf(stdout, "chaos: %s kills=%d%s leads=%d deliveries=%d lost=%d duplicates=%d mismatches=%d missed_deliveries=%d max_sharpspring_per_second=%d elapsed=%s\n",
		status, res.kills, inst, res.Leads, res.Deliveries, res.Lost, res.Duplicates, res.Mismatches, res.missed, res.maxPerSecond, elapsed)
	if res.missed > 1 {
		fmt.Fprintf(stdout, "chaos: the safety net published %d leads as missed deliveries; one delivery was dropped\n", res.missed)
	}
	if status != "ok" {
		fmt.Fprintf(stdout, "chaos: seed=%d to repeat the kill schedule\n", *seed)
		return 1
	}
	return 0
}

type chaosOptions struct {
	leads, kills int
	instances    int
	seed         uint64
	keep         bool
	logLevel     string
	say          func(string, ...any)
}

type chaosResult struct {
	scenario.Result
	kills        int
	maxPerSecond int
	// missed is how many leads the LeadExec safety net published as never
	// delivered, over every instance and restart (its cursor in the
	// state keeps the total); the scenario drops exactly one delivery.
	missed int64
	// maxFailover is, over the kills of a cluster, the longest time from a
	// kill until every leased source and route ran again on a live
	// instance.
	maxFailover time.Duration
}

// maxFailover bounds how long a killed instance's pollers and routes may
// stand still (its leases last 3s in the test).
const maxFailover = 30 * time.Second

func (r chaosResult) OK() bool {
	return r.Result.OK() && r.maxPerSecond <= 10 && r.maxFailover <= maxFailover && r.missed <= 1
}

func chaos(ctx context.Context, o chaosOptions) (res chaosResult, err error) {
	dir, err := os.MkdirTemp("", "crmsync-chaos-*")
	if err != nil {
		return res, err
	}
	if o.keep {
		o.say("data directory %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	exe, err := os.Executable()
	if err != nil {
		return res, err
	}
	addr, err := scenario.FreeAddr()
	if err != nil {
		return res, err
	}
	w, err := scenario.New(filepath.Join(dir, "data"), scenario.Options{
		Leads: o.leads, Seed: int64(o.seed % (1 << 62)), Listen: addr, Say: o.say,
		// LeadExec keeps retrying while crmsync is down (its guidance is
		// 2–5 retries minutes apart; faster here).
		DeliveryRetries: 200, RetryDelay: 100 * time.Millisecond,
	})
	if err != nil {
		return res, err
	}
	defer w.Close()
	// Writes take a little while, so that kills land inside them.
	w.SS.SetFaults(sharpspringsim.Faults{Latency: 30 * time.Millisecond})
	// Restarts must resume quickly: events a killed instance held come
	// back after the ack wait.
	w.Config.Bus.NATS.AckWait = config.Duration(5 * time.Second)
	var natsURL string
	if o.instances > 1 {
		// One NATS server that outlives every instance: the cluster the
		// instances share, with their state on it.
		srv, err := natsbus.StartEmbedded(natsbus.EmbeddedOptions{StoreDir: filepath.Join(dir, "nats"), Listen: "127.0.0.1:0"})
		if err != nil {
			return res, err
		}
		defer srv.Shutdown()
		natsURL = srv.ClientURL()
		w.Config.Bus.NATS.URL = natsURL
		w.Config.State = config.StateConfig{Kind: "nats", Bucket: "crmsync_state", Replicas: 1, LeaseTTL: config.Duration(3 * time.Second)}
	}
	if o.logLevel != "" {
		w.Config.Log.Level = o.logLevel
	}
	if err := w.Config.Validate(); err != nil {
		return res, err
	}
	rng := rand.New(rand.NewPCG(o.seed, 2))
	var children []*child
	for i := range o.instances {
		caddr, name := addr, "crmsync"
		if o.instances > 1 {
			if caddr, err = scenario.FreeAddr(); err != nil {
				return res, err
			}
			name = fmt.Sprintf("crmsync-%d", i+1)
		}
		w.Config.HTTP.Listen = caddr
		yml, env, err := w.ChildConfig()
		if err != nil {
			return res, err
		}
		cfgPath := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(cfgPath, yml, 0o600); err != nil {
			return res, err
		}
		children = append(children, &child{exe: exe, cfg: cfgPath, env: append(os.Environ(), env...), addr: caddr,
			logPath: filepath.Join(dir, name+".log"), rng: rng, w: w, say: o.say, kills: o.kills})
	}
	defer func() {
		for _, c := range children {
			c.stop()
		}
	}()
	for _, c := range children {
		if err := c.start(ctx); err != nil {
			return res, err
		}
	}
	var pl scenario.Pipeline
	if len(children) == 1 {
		go children[0].killLoop(ctx)
		pl = children[0]
	} else {
		cl := &cluster{children: children, rng: rng, kills: o.kills, say: o.say, allIn: make(chan struct{})}
		if err := cl.serve(addr); err != nil {
			return res, err
		}
		defer cl.close()
		go cl.killLoop(ctx)
		pl = cl
	}

	// The verdict reads SharpSpring within the account's shared window,
	// like the instances.
	state, release, err := chaosState(ctx, w.Config, natsURL)
	if err != nil {
		return res, err
	}
	defer release()
	gate := pipeline.NewBudget(pipeline.BudgetConfig{Account: w.Config.SharpSpring.Account(),
		PerSecond: w.Config.SharpSpring.RatePerSecond, Shared: true}, state)
	sr, err := w.Play(ctx, pl, sharpspring.Gate(gate))
	res.Result = sr
	for _, c := range children {
		res.kills += c.killed()
	}
	res.maxPerSecond = w.SS.Stats().MaxInSlidingSecond
	if cl, ok := pl.(*cluster); ok {
		res.maxFailover = cl.maxFailover()
	}
	if res.missed, err = missedTotal(ctx, state); err != nil {
		return res, err
	}
	if err != nil {
		return res, err
	}
	for _, c := range children {
		logs, _ := os.ReadFile(c.logPath)
		for _, s := range w.Secrets() {
			if s != "" && strings.Contains(string(logs), s) {
				return res, fmt.Errorf("a secret appeared in the log of %s", filepath.Base(c.logPath))
			}
		}
	}
	return res, nil
}

// chaosState opens the state the instances share: their SQLite file, or
// the bucket on the NATS server at natsURL.
func chaosState(ctx context.Context, cfg *config.Config, natsURL string) (pipeline.State, func(), error) {
	if natsURL == "" {
		st, err := checkpoints.Open(ctx, filepath.Join(cfg.DataDir, "state.db"))
		if err != nil {
			return nil, nil, err
		}
		return st, func() { _ = st.Close() }, nil // read only: nothing to lose
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err == nil {
		var st pipeline.State
		if st, err = natskv.Open(ctx, js, natskv.Config{Bucket: cfg.State.Bucket}); err == nil {
			return st, nc.Close, nil
		}
	}
	nc.Close()
	return nil, nil, err
}

// cluster is several 'crmsync run' processes on one NATS cluster behind one
// webhook address; it is the scenario's Pipeline. Deliveries go round robin
// to the live instances; kills pick an instance at random.
type cluster struct {
	children []*child
	rng      *rand.Rand
	kills    int
	say      func(string, ...any)
	allIn    chan struct{}
	next     atomic.Uint64
	mu       sync.Mutex
	failover time.Duration // the longest seen
	srv      *http.Server
	url      string
}

func (cl *cluster) HookURL() string { return cl.url }

// Idle reports whether a live instance sees every backlog at zero (the
// routes' consumers are the cluster's, whichever instance runs them).
func (cl *cluster) Idle(ctx context.Context) bool {
	for _, c := range cl.children {
		if c.Idle(ctx) {
			return true
		}
	}
	return false
}

// Quiesce waits for the kill schedule to finish.
func (cl *cluster) Quiesce(ctx context.Context) error { return waitClosed(ctx, cl.allIn) }

// serve answers at addr, passing each request to the next live instance:
// the one webhook address in front of the instances.
func (cl *cluster) serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	cl.url = "http://" + addr
	client := &http.Client{Timeout: 30 * time.Second}
	cl.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for range cl.children {
			c := cl.children[cl.next.Add(1)%uint64(len(cl.children))]
			req, _ := http.NewRequestWithContext(r.Context(), r.Method, c.HookURL()+r.URL.RequestURI(), bytes.NewReader(body))
			req.Header = r.Header.Clone()
			resp, err := client.Do(req)
			if err != nil {
				continue // that instance is down: the next one answers
			}
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
			_ = resp.Body.Close()
			return
		}
		http.Error(w, "no instance is up", http.StatusBadGateway)
	})}
	go func() { _ = cl.srv.Serve(ln) }()
	return nil
}

func (cl *cluster) close() { _ = cl.srv.Close() }

// killLoop SIGKILLs a random instance cl.kills times and starts it again
// after each.
func (cl *cluster) killLoop(ctx context.Context) {
	defer close(cl.allIn)
	for i := 0; i < cl.kills; i++ {
		c := cl.children[cl.rng.IntN(len(cl.children))]
		if err := c.killOnce(ctx, i, cl.kills); err != nil {
			cl.say("restart of %s: %v", filepath.Base(c.cfg), err)
			return
		}
		// Every leased source and route runs again somewhere.
		killed := c.lastKill()
		for !cl.allHeld(ctx) {
			if time.Since(killed) > 2*maxFailover || !pipeline.Sleep(ctx, 50*time.Millisecond) {
				break
			}
		}
		d := time.Since(killed)
		cl.mu.Lock()
		cl.failover = max(cl.failover, d)
		cl.mu.Unlock()
		cl.say("every source and route runs again %s after the kill", d.Round(100*time.Millisecond))
	}
}

func (cl *cluster) maxFailover() time.Duration {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.failover
}

// allHeld reports whether every leased source and route is held by a live
// instance, as their /status pages say.
func (cl *cluster) allHeld(ctx context.Context) bool {
	leased, held := map[string]bool{}, map[string]bool{}
	for _, c := range cl.children {
		st, ok := scenario.ReadStatus(ctx, c.HookURL())
		if !ok {
			continue
		}
		for _, s := range st.Sources {
			if s.Lease != "" {
				leased["source:"+s.Name] = true
				held["source:"+s.Name] = held["source:"+s.Name] || s.Lease == "held"
			}
		}
		for _, r := range st.Routes {
			if r.Lease != "" {
				leased["route:"+r.Name] = true
				held["route:"+r.Name] = held["route:"+r.Name] || r.Lease == "held"
			}
		}
	}
	if len(leased) == 0 {
		return false
	}
	for n := range leased {
		if !held[n] {
			return false
		}
	}
	return true
}

// child is a 'crmsync run' process that is killed and started again; it is
// the scenario's Pipeline.
type child struct {
	exe, cfg, addr, logPath string
	env                     []string
	rng                     *rand.Rand
	w                       *scenario.World
	say                     func(string, ...any)
	kills                   int

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd has exited
	done     int           // kills so far
	killedAt time.Time     // the last kill
	allIn    chan struct{} // closed after the last kill and restart
}

func (c *child) HookURL() string { return "http://" + c.addr }

func (c *child) Idle(ctx context.Context) bool { return scenario.StatusIdle(ctx, c.HookURL()) }

// Quiesce waits for the kill schedule to finish, so that the verdict is
// taken after the last restart.
func (c *child) Quiesce(ctx context.Context) error { return waitClosed(ctx, c.allIn) }

// waitClosed returns nil once done is closed, or ctx's error if ctx ends
// first.
func waitClosed(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *child) killed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// start runs the child and waits until it is ready.
func (c *child) start(ctx context.Context) error {
	if c.allIn == nil {
		c.allIn = make(chan struct{})
	}
	f, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.exe, "run", "--config", c.cfg)
	cmd.Env = c.env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close() // the child never ran: nothing was written
		return err
	}
	exited := make(chan struct{})
	// The child is killed on purpose: how it ended is no error here, and
	// its log was written by the child itself, not through f.
	go func() { _ = cmd.Wait(); _ = f.Close(); close(exited) }()
	c.mu.Lock()
	c.cmd, c.exited = cmd, exited
	c.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(c.HookURL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("crmsync run did not become ready in 60s (log: %s)", c.logPath)
		}
		if !pipeline.Sleep(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// stop ends the child gracefully.
func (c *child) stop() {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// killLoop SIGKILLs the child c.kills times, cycling through three kinds of
// moment, and starts it again after each.
func (c *child) killLoop(ctx context.Context) {
	defer close(c.allIn)
	for i := 0; i < c.kills; i++ {
		if err := c.killOnce(ctx, i, c.kills); err != nil {
			c.say("restart: %v", err)
			return
		}
	}
}

// killOnce waits a random while, SIGKILLs the child at the i-th kind of
// moment and starts it again.
func (c *child) killOnce(ctx context.Context, i, total int) error {
	if !pipeline.Sleep(ctx, time.Duration(200+c.rng.IntN(1800))*time.Millisecond) {
		return ctx.Err()
	}
	moment := "at a random time"
	switch i % 3 {
	case 1:
		moment = "during a SharpSpring write"
		c.waitFor(ctx, func() int {
			st := c.w.SS.Stats()
			return st.ByMethod["createLeads"] + st.ByMethod["updateLeadsV2"]
		})
	case 2:
		moment = "during an iVvy poll"
		c.waitFor(ctx, func() int { return c.w.IV.Stats().ByAction["crm.getLeadList"] })
	}
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	c.mu.Lock()
	c.done++
	c.killedAt = time.Now()
	c.mu.Unlock()
	c.say("kill %d/%d of %s %s", i+1, total, filepath.Base(c.cfg), moment)
	return c.start(ctx)
}

// waitFor waits (up to 3 s) until count moves, so that the kill lands just
// after a request arrived.
func (c *child) waitFor(ctx context.Context, count func() int) {
	base := count()
	deadline := time.Now().Add(3 * time.Second)
	for count() == base && time.Now().Before(deadline) && pipeline.Sleep(ctx, time.Millisecond) {
	}
}

func (c *child) lastKill() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killedAt
}

// missedTotal reads how many leads the LeadExec safety net published as
// missed deliveries since the state began, from its cursor.
func missedTotal(ctx context.Context, st pipeline.State) (int64, error) {
	raw, _, err := st.Cursor(ctx, "leadexec.safety_net")
	if errors.Is(err, pipeline.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var c struct {
		MissedTotal int64 `json:"missed_total"`
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return 0, fmt.Errorf("safety net cursor: %w", err)
	}
	return c.MissedTotal, nil
}
