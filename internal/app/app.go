// Package app assembles one crmsync instance from its configuration: state,
// bus, vendor clients, webhook receivers, routes and the HTTP listener, and
// runs them until stopped.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/natsbus"
	ssink "github.com/crmsync/crmsync/sinks/sharpspring"
	"github.com/crmsync/crmsync/sources/leadexec"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// App is one running crmsync instance.
type App struct {
	cfg      *config.Config
	log      *slog.Logger
	State    *checkpoints.Store
	Bus      *natsbus.Bus
	Catalog  *mappings.Catalog
	Receiver *leadexec.Receiver
	Runners  []*pipeline.Runner
	ln       net.Listener
	srv      *http.Server
	stopping chan struct{}
}

// New opens state and bus, checks the vendor accounts, and prepares every
// route. It listens on the HTTP address but serves nothing until Run.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	a := &App{cfg: cfg, log: log, stopping: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			a.close()
		}
	}()
	cat, errs := mappings.NewCatalog(cfg.Catalog)
	if len(errs) > 0 {
		return nil, &config.Errors{List: errs}
	}
	a.Catalog = cat
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	var err error
	a.State, err = checkpoints.Open(ctx, filepath.Join(cfg.DataDir, "state.db"))
	if err != nil {
		return nil, err
	}
	a.Bus, err = natsbus.Open(ctx, natsbus.Config{
		URL: cfg.Bus.NATS.URL, StoreDir: filepath.Join(cfg.DataDir, "jetstream"), Listen: cfg.Bus.NATS.Listen,
		Stream: cfg.Bus.NATS.Stream, DuplicateWindow: cfg.Bus.NATS.DuplicateWindow.Std(),
	})
	if err != nil {
		return nil, err
	}

	var ssClient *sharpspring.Client
	if s := cfg.SharpSpring; s != nil {
		bc := pipeline.BudgetConfig{Account: "sharpspring:" + s.AccountID, PerSecond: s.RatePerSecond, Daily: s.DailyQuota}
		if s.Unlimited {
			bc.PerSecond = 0
		}
		budget := pipeline.NewBudget(bc, a.State)
		ssClient, err = sharpspring.New(sharpspring.Config{
			Endpoint: s.Endpoint, AccountID: s.AccountID, SecretKey: s.SecretKey.Value(),
			HTTPClient: &http.Client{Timeout: s.Timeout.Std()}, Gate: budget,
		})
		if err != nil {
			return nil, err
		}
		if err := CheckSharpSpringFields(ctx, ssClient, cat, log); err != nil {
			return nil, err
		}
	}
	if l := cfg.LeadExec; l != nil {
		w := l.Webhook
		a.Receiver = leadexec.NewReceiver(leadexec.Config{
			Path: w.Path, BasicUser: w.BasicUser, BasicPassword: w.BasicPassword.Value(), BearerToken: w.BearerToken.Value(),
			SuccessText: w.SuccessText, IDField: w.IDField, ChangedAtField: w.ChangedAtField, MaxBody: w.MaxBodyBytes,
		}, a.Bus, a.State, log.With("source", "leadexec.webhook"))
	}
	for _, rc := range cfg.Routes {
		r := pipeline.Route{
			Name: rc.Name, From: rc.From,
			Batch:  pipeline.BatchPolicy{MaxObjects: rc.BatchSize, Linger: rc.Linger.Std()},
			Logger: log,
		}
		switch rc.From + "->" + rc.To {
		case "leadexec.lead->sharpspring.lead":
			r.To = pipeline.Target{Vendor: "sharpspring", Entity: "lead"}
			r.Mapper = mappings.LeadExecToSharpSpring(cat)
			r.Sink = ssink.NewLeadSink(ssClient, log)
		default:
			return nil, fmt.Errorf("routes: %s → %s is not supported", rc.From, rc.To)
		}
		ru, err := pipeline.NewRunner(r, a.Bus, a.State)
		if err != nil {
			return nil, err
		}
		a.Runners = append(a.Runners, ru)
	}
	a.ln, err = net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen: %w", err)
	}
	a.srv = &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second}
	ok = true
	return a, nil
}

// CheckSharpSpringFields refuses to start when a configured system name does
// not exist in the account, and warns when a label changed.
func CheckSharpSpringFields(ctx context.Context, c *sharpspring.Client, cat *mappings.Catalog, log *slog.Logger) error {
	fields, err := c.GetFields(ctx)
	if err != nil {
		return fmt.Errorf("sharpspring: reading fields (getFields) at start-up: %w", err)
	}
	bySystem := map[string]sharpspring.Field{}
	for _, f := range fields {
		if f.Relationship == "lead" || f.Relationship == "" {
			bySystem[f.SystemName] = f
		}
	}
	var missing []string
	for _, cf := range cat.Fields() {
		if cf.SharpSpring == "" {
			continue
		}
		f, ok := bySystem[cf.SharpSpring]
		if !ok {
			missing = append(missing, fmt.Sprintf("%s (catalog field %q)", cf.SharpSpring, cf.Name))
			continue
		}
		if cf.Label != "" && f.Label != cf.Label {
			log.Warn("SharpSpring field label changed; the system name still matches, nothing breaks",
				"system_name", cf.SharpSpring, "catalog_label", cf.Label, "sharpspring_label", f.Label)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("sharpspring: these catalog system names do not exist among the account's lead fields: %s; copy systemName values from getFields, not labels",
			strings.Join(missing, ", "))
	}
	return nil
}

// Addr is the HTTP listener's address.
func (a *App) Addr() string { return a.ln.Addr().String() }

func (a *App) handler() http.Handler {
	mux := http.NewServeMux()
	if a.Receiver != nil {
		mux.Handle(a.Receiver.Path(), a.Receiver)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-a.stopping:
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		default:
		}
		if err := a.Bus.Ready(); err != nil {
			http.Error(w, "bus: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err := a.State.Ping(r.Context()); err != nil {
			http.Error(w, "state: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// Run serves webhooks and runs every route until ctx is cancelled; then it
// stops intake, lets routes finish their batch in flight, and closes state
// and bus. The first failing part stops the others.
func (a *App) Run(ctx context.Context) error {
	defer a.close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := a.srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		close(a.stopping)
		if a.Receiver != nil {
			a.Receiver.Stop()
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return a.srv.Shutdown(sctx)
	})
	for _, ru := range a.Runners {
		g.Go(func() error { return ru.Run(gctx) })
	}
	a.log.Info("crmsync running", "http", a.Addr(), "routes", len(a.Runners))
	err := g.Wait()
	a.log.Info("crmsync stopped")
	return err
}

func (a *App) close() {
	if a.ln != nil && a.srv == nil {
		a.ln.Close()
	}
	if a.Bus != nil {
		a.Bus.Close()
	}
	if a.State != nil {
		a.State.Close()
	}
}
