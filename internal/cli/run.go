package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/crmsync/crmsync/internal/app"
)

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", "run --config FILE", stderr)
	path := fs.String("config", "crmsync.yaml", "config file (see crmsync.example.yaml)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg := loadConfig(*path, stderr)
	if cfg == nil {
		return 1
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "crmsync: %v\n", err)
		return 1
	}
	return 0
}
