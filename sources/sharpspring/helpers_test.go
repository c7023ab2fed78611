package sharpspring

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/natsbus"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
	"github.com/crmsync/crmsync/vendors/simkit/simtest"
)

// t0 is 2026-03-10 12:00:00.4 UTC.
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 400_000_000, time.UTC)

type env struct {
	t     *testing.T
	clock *simtest.Clock // shared by the simulator and the poller
	sim   *sharpspringsim.Server
	srv   *httptest.Server
	bus   *natsbus.Bus
	store *checkpoints.Store
}

// newEnv starts a simulator (per-second limit off: the clock is frozen), an
// embedded bus and a state file.
func newEnv(t *testing.T, opts sharpspringsim.Options) *env {
	t.Helper()
	ck := simtest.NewClock(t0)
	opts.Now = ck.Now
	if opts.RateLimitPerSecond == 0 {
		opts.RateLimitPerSecond = -1
	}
	sim := sharpspringsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	bus := testenv.Bus(t)
	store := testenv.State(t)
	return &env{t: t, clock: ck, sim: sim, srv: srv, bus: bus, store: store}
}

// client returns an API client for version "v1.2" or "v1".
func (e *env) client(version string) *sharpspring.Client {
	e.t.Helper()
	c, err := sharpspring.New(sharpspring.Config{
		Endpoint:  e.srv.URL + "/pubapi/" + version + "/",
		AccountID: sharpspringsim.DefaultAccountID, SecretKey: sharpspringsim.DefaultSecretKey,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) poller(cfg LeadPollerConfig, pub pipeline.Publisher) *LeadPoller {
	e.t.Helper()
	cfg.Now = e.clock.Now
	if pub == nil {
		pub = e.bus
	}
	p, err := NewLeadPoller(cfg, e.client("v1.2"), pub, e.store)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// events reads every event on the subject from the start of the stream
// (with a fresh consumer), waiting until no more arrive.
func (e *env) events(entity string) []pipeline.Event {
	e.t.Helper()
	name := "test-" + time.Now().Format("150405.000000000")
	cons, err := e.bus.Consumer(context.Background(), name, pipeline.Subject(entity, "sharpspring"))
	if err != nil {
		e.t.Fatal(err)
	}
	return testenv.Drain(e.t, cons, 300*time.Millisecond)
}

// requests counts the simulator's authenticated calls of method.
func requests(sim *sharpspringsim.Server, method string) int {
	return sim.Stats().ByMethod[method]
}
