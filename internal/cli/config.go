package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/crmsync/crmsync/internal/config"
)

func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "Usage: crmsync config check --config FILE")
		return 2
	}
	fs := newFlagSet("config check", "config check --config FILE", stderr)
	path := fs.String("config", "crmsync.yaml", "config file to validate")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *path, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d route(s), %d catalog field(s))\n", *path, len(cfg.Routes), len(cfg.Catalog))
	return 0
}
