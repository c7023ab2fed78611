// Package app assembles one crmsync instance from its configuration: state,
// bus, vendor clients, webhook receivers, pollers, routes and the HTTP
// listener, and runs them until stopped.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
)

// App is one crmsync instance.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	State   pipeline.State
	Bus     Bus // nil when offline
	Catalog *mappings.Catalog
	Sources []pipeline.Source
	Runners []*pipeline.Runner
	vendors *vendorSet
	// ln and srv serve the webhooks (and, without adminLn, everything).
	ln  net.Listener
	srv *http.Server
	// adminLn and adminSrv serve /status, /metrics, /healthz and /readyz
	// when http.admin_listen is set; nil otherwise.
	adminLn  net.Listener
	adminSrv *http.Server
	stopping chan struct{}
	// stateBus is the bus connection an offline instance holds only for
	// its state on the NATS cluster.
	stateBus Bus
	// instance names this process among the instances on one cluster.
	instance string
	// routeLeases hold the routes' leases when the state is shared.
	routeLeases map[string]*pipeline.Leased
	presence    *presence // nil unless on a NATS cluster of its own
	// drift counts reconciliation per route (routes with reconcile on).
	drift map[string]*driftStats
}

// New opens state and bus, checks the vendor accounts, and prepares every
// source and route. It listens on the HTTP address but serves nothing until
// Run.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	return build(ctx, cfg, log, false)
}

// NewOffline prepares the routes without bus, webhooks or HTTP listener, for
// commands that run events through a route's map and sink directly (dead
// letter retries) while the instance may be running.
func NewOffline(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	return build(ctx, cfg, log, true)
}

func build(ctx context.Context, cfg *config.Config, log *slog.Logger, offline bool) (*App, error) {
	if log == nil {
		log = slog.Default()
	}
	a := &App{cfg: cfg, log: log, stopping: make(chan struct{}), instance: instanceName()}
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
	// The data dir holds the state and the embedded bus's stream, both with
	// leads' contact data: a new one is its owner's only. An existing one
	// keeps the mode its operator gave it.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// State on the NATS cluster needs the bus's connection, also offline.
	var err error
	var bus Bus
	if !offline || cfg.State.Kind == "nats" {
		if bus, err = OpenBus(ctx, cfg); err != nil {
			return nil, err
		}
		if sb, ok := bus.(interface{ SharedBackfill() bool }); ok && sb.SharedBackfill() {
			a.log.Warn("backfill events still share the change-event stream: routes have backfill events left in it " +
				"from before backfill had a stream of its own; the first start after they are taken moves backfill to its own stream")
		}
		if offline {
			a.stateBus = bus
		} else {
			a.Bus = bus
		}
	}
	store, err := OpenState(ctx, cfg, bus)
	if err != nil {
		return nil, err
	}
	a.State = store
	if !offline {
		if err := a.claimReceipts(ctx); err != nil {
			return nil, err
		}
		if a.presence, err = a.joinCluster(ctx); err != nil {
			return nil, err
		}
	}
	a.vendors, err = openVendors(ctx, cfg, cat, a.State, a.Bus, log)
	if err != nil {
		return nil, err
	}
	if !offline {
		if err := a.buildSources(); err != nil {
			return nil, err
		}
	}
	if err := a.buildRoutes(); err != nil {
		return nil, err
	}
	if !offline {
		if err := a.buildReconcilers(); err != nil {
			return nil, err
		}
		a.leaseSingletons()
	}
	if !offline {
		a.ln, err = net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return nil, fmt.Errorf("http.listen: %w", err)
		}
		if cfg.HTTP.AdminListen != "" {
			if a.adminLn, err = net.Listen("tcp", cfg.HTTP.AdminListen); err != nil {
				return nil, fmt.Errorf("http.admin_listen: %w", err)
			}
		}
		public, admin := a.handlers(a.adminLn != nil)
		a.srv = newServer(cfg.HTTP, public)
		if admin != nil {
			a.adminSrv = newServer(cfg.HTTP, admin)
		}
	}
	ok = true
	return a, nil
}

// Route returns the runner of a route by name.
func (a *App) Route(name string) (*pipeline.Runner, bool) {
	for _, r := range a.Runners {
		if r.Name() == name {
			return r, true
		}
	}
	return nil, false
}

// Addr is the HTTP listener's address (http.listen: the webhooks).
func (a *App) Addr() string { return a.ln.Addr().String() }

// AdminAddr is the address serving /status, /metrics, /healthz and /readyz:
// the admin listener's when http.admin_listen is set, else Addr.
func (a *App) AdminAddr() string {
	if a.adminLn != nil {
		return a.adminLn.Addr().String()
	}
	return a.Addr()
}

// Run serves webhooks and runs every source and route until ctx is
// cancelled; then it stops intake (webhooks answer 503), lets routes finish
// their batch in flight, and closes state and bus. The first failing part
// stops the others.
func (a *App) Run(ctx context.Context) error {
	defer a.close()
	if a.srv == nil {
		return errors.New("app: offline instances cannot run")
	}
	g, gctx := errgroup.WithContext(ctx)
	servers := []*http.Server{a.srv}
	serve := func(name string, srv *http.Server, ln net.Listener) {
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	serve("http", a.srv, a.ln)
	if a.adminSrv != nil {
		servers = append(servers, a.adminSrv)
		serve("http admin", a.adminSrv, a.adminLn)
	}
	g.Go(func() error {
		<-gctx.Done()
		close(a.stopping)
		for _, w := range a.vendors.webhooks() {
			w.Stop()
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var errs []error
		for _, srv := range servers {
			errs = append(errs, srv.Shutdown(sctx))
		}
		return errors.Join(errs...)
	})
	if p := a.presence; p != nil {
		g.Go(func() error { return p.run(gctx) })
	}
	for _, s := range a.Sources {
		g.Go(func() error {
			if err := s.Run(gctx); err != nil {
				return fmt.Errorf("source %s: %w", s.Name(), err)
			}
			return nil
		})
	}
	for _, ru := range a.Runners {
		if l := a.routeLeases[ru.Name()]; l != nil {
			g.Go(func() error { return l.Run(gctx) })
			continue
		}
		g.Go(func() error { return ru.Run(gctx) })
	}
	a.log.Info("crmsync running", "http", a.Addr(), "admin", a.AdminAddr(), "sources", len(a.Sources), "routes", len(a.Runners))
	err := g.Wait()
	a.log.Info("crmsync stopped")
	return err
}

// Close releases an instance that was built but not run.
func (a *App) Close() { a.close() }

func (a *App) close() {
	// Serve closes its listener at shutdown; one that never served (an
	// instance built but not run) is closed here. Closing twice is harmless.
	for _, ln := range []net.Listener{a.ln, a.adminLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if a.vendors != nil {
		a.vendors.close()
	}
	if a.presence != nil {
		a.presence.withdraw()
		a.presence = nil
	}
	// State first: on the NATS cluster it uses the bus's connection.
	if a.State != nil {
		a.State.Close()
		a.State = nil
	}
	if a.Bus != nil {
		a.Bus.Close()
		a.Bus = nil
	}
	if a.stateBus != nil {
		a.stateBus.Close()
		a.stateBus = nil
	}
}
