package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
	"github.com/crmsync/crmsync/vendors/simkit"
)

// SharpSpring's documented ceiling: 10 requests per second of at most 500
// objects each.
const (
	ssRequestsPerSecond = 10
	ssMaxObjects        = 500
	ssCeiling           = ssRequestsPerSecond * ssMaxObjects // leads/s
)

// instanceOptions shape an in-process instance with one route, LeadExec's
// webhook → SharpSpring leads.
type instanceOptions struct {
	// limits keeps SharpSpring's limits on: the simulator answers 107 past
	// 10 requests per second and the client keeps to ratePerSecond.
	// Without, both are off.
	limits        bool
	ratePerSecond float64       // default 10 (the most the config allows)
	linger        time.Duration // default the config's (500ms)
	// wrap, if set, wraps the simulator's handler.
	wrap func(http.Handler) http.Handler
}

// instance is a SharpSpring simulator and a crmsync instance (embedded
// NATS, state in dir) that routes LeadExec's webhook deliveries into it.
type instance struct {
	sim     *sharpspringsim.Server
	stopSim func()
	cfg     *config.Config
	app     *app.App
	hookURL string
	user    string
	pass    string
	client  *http.Client

	cancel context.CancelFunc
	done   chan error
}

// newInstance starts the simulator and opens (but does not run) the
// instance.
func newInstance(ctx context.Context, dir string, o instanceOptions) (*instance, error) {
	if o.ratePerSecond == 0 {
		o.ratePerSecond = ssRequestsPerSecond
	}
	account, secret := "1001", rand.Text()
	simOpts := sharpspringsim.Options{Accounts: map[string]string{account: secret}}
	if !o.limits {
		simOpts.RateLimitPerSecond, simOpts.DailyLimit = -1, -1
	}
	sim := sharpspringsim.New(simOpts)
	var h http.Handler = sim
	if o.wrap != nil {
		h = o.wrap(sim)
	}
	simURL, stopSim, err := simkit.Serve(h, "")
	if err != nil {
		sim.Close()
		return nil, err
	}
	in := &instance{sim: sim, user: "leadexec", pass: rand.Text(),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 60 * time.Second}}
	in.stopSim = func() { stopSim(); sim.Close() }
	var catalog []mappings.CatalogField
	for _, f := range []struct{ name, label string }{{"favorite_color", "Favorite Color"}, {"budget", "Budget"}} {
		catalog = append(catalog, mappings.CatalogField{Name: f.name, Label: f.label,
			SharpSpring: sim.CreateField("lead", f.label, "text"), LeadExec: strings.ReplaceAll(f.label, " ", "")})
	}
	cfg := &config.Config{
		DataDir: dir,
		HTTP:    config.HTTPConfig{Listen: "127.0.0.1:0"},
		SharpSpring: &config.SharpSpringConfig{Endpoint: simURL + "/pubapi/v1.2/", AccountID: account,
			SecretKey: config.Secret(secret), RatePerSecond: o.ratePerSecond, FieldCheckInterval: -1},
		LeadExec: &config.LeadExecConfig{Webhook: config.WebhookConfig{BasicUser: in.user, BasicPassword: config.Secret(in.pass)}},
		Catalog:  catalog,
		Routes: []config.RouteConfig{{Name: "leadexec-to-sharpspring", From: "leadexec.lead", To: "sharpspring.lead",
			Linger: config.Duration(o.linger)}},
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		in.stopSim()
		return nil, err
	}
	if !o.limits {
		cfg.SharpSpring.Unlimited = true
		cfg.SharpSpring.DailyQuota = 1 << 30
	}
	in.cfg = cfg
	in.app, err = app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		in.stopSim()
		return nil, err
	}
	in.hookURL = "http://" + in.app.Addr() + cfg.LeadExec.Webhook.Path
	return in, nil
}

// start runs the instance and waits until it is ready.
func (in *instance) start(ctx context.Context) error {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	in.cancel, in.done = cancel, make(chan error, 1)
	a := in.app
	go func() { in.done <- a.Run(rctx) }()
	return poll(ctx, 30*time.Second, "instance ready", func() bool {
		resp, err := http.Get("http://" + a.Addr() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// close stops the instance (gracefully, if it runs) and the simulator.
func (in *instance) close() error {
	var err error
	if in.cancel != nil {
		in.cancel()
		err = <-in.done
		in.cancel = nil
	} else {
		in.app.Close()
	}
	in.stopSim()
	in.client.CloseIdleConnections()
	return err
}

// upserts is how many leads the route has written.
func (in *instance) upserts() int64 { return in.app.Runners[0].Stats.Upserts.Load() }

// deliver plays one LeadExec delivery (form post) and requires success.
func (in *instance) deliver(ctx context.Context, uid int, fields map[string]string) error {
	v := url.Values{"LeadUID": {fmt.Sprint(uid)}}
	for k, x := range fields {
		v.Set(k, x)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.hookURL, strings.NewReader(v.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(in.user, in.pass)
	resp, err := in.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("delivery of lead %d answered %s", uid, resp.Status)
	}
	return nil
}

// leadFields is LeadExec's delivery of lead i.
func leadFields(i int) map[string]string {
	return map[string]string{
		"FirstName": fmt.Sprintf("First%d", i), "LastName": fmt.Sprintf("Last%d", i),
		"Email": leadEmail(i), "City": "Austin", "FavoriteColor": fmt.Sprintf("color-%d", i%7),
	}
}

func leadEmail(i int) string { return fmt.Sprintf("lead%d@example.com", i) }

// poll checks cond every 10ms until it holds, ctx ends or limit passes.
func poll(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", limit, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// errs joins the errors that are not nil.
func errs(list ...error) error { return errors.Join(list...) }
