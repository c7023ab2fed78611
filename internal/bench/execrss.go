package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// A child's peak RSS as the kernel reports it (wait4's ru_maxrss) is
// inflated on Linux: Go starts children with vfork semantics (CLONE_VM), so
// until exec the child shares its parent's address space, and exec folds
// that space's high-water mark into the child's. A bench process holding a
// simulator with a million leads would be measured instead of the child.
// ExecRSS therefore runs the command from a fresh, small crmsync process:
// `crmsync bench --exec-rss -- COMMAND...`.

// ExecRSS runs args as a crmsync command in a child process of this
// executable, with this process's standard streams, and then prints
// "peak_rss_bytes=N" on stdout (0 when the system does not report it). It
// returns the child's exit status.
func ExecRSS(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, stdout, stderr
	// A stop asked of this process is passed on, so that the command can
	// shut down gracefully and its usage be read.
	cmd.Cancel = func() error { return cmd.Process.Signal(stopSignal) }
	cmd.WaitDelay = time.Minute
	err = cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "peak_rss_bytes=%d\n", peakRSS(cmd.ProcessState))
	if code := cmd.ProcessState.ExitCode(); code >= 0 {
		return code
	}
	return 1 // ended by a signal
}

var peakRSSLine = regexp.MustCompile(`(?m)^peak_rss_bytes=(\d+)$`)

// parsePeakRSS reads ExecRSS's line from a child's output.
func parsePeakRSS(out string) (int64, bool) {
	m := peakRSSLine.FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil
}
