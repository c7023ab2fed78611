package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
)

// offline is what commands beside a running instance work with: its
// config, its routes and state (no webhooks, no HTTP), and its bus.
type offline struct {
	cfg *config.Config
	app *app.App
	bus app.Bus
}

func (o *offline) Close() {
	_ = o.bus.Close() // at exit, after the command's work: nothing left to lose
	o.app.Close()
}

// openOffline loads the config at path and opens the instance's routes,
// state and bus. On failure it reports to stderr and returns the exit code.
func openOffline(ctx context.Context, path string, stderr io.Writer) (*offline, int) {
	cfg := loadConfig(path, stderr)
	if cfg == nil {
		return nil, 1
	}
	a, err := app.NewOffline(ctx, cfg, newLogger(stderr, cfg.Log.Level, cfg.Log.Format))
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return nil, 1
	}
	bus, err := app.OpenBus(ctx, cfg)
	if err != nil {
		a.Close()
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return nil, 1
	}
	return &offline{cfg: cfg, app: a, bus: bus}, 0
}
