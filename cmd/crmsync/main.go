// Command crmsync keeps leads and clients in step across CRM and
// lead-distribution platforms. See README.md and `crmsync help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/crmsync/crmsync/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
