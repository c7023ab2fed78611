package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// child is a crmsync command run through `crmsync bench --exec-rss`, so
// that its peak RSS is its own (see ExecRSS).
type child struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer // complete once exited is closed
	exited chan struct{}
	err    error // Wait's, once exited is closed

	mu   sync.Mutex
	tail []string // the last lines of stderr
}

// startChild starts exe (a crmsync binary) with args under --exec-rss;
// onLine sees every line the command writes to stderr.
func startChild(ctx context.Context, exe string, env, args []string, onLine func(string)) (*child, error) {
	c := &child{exited: make(chan struct{})}
	c.cmd = exec.CommandContext(ctx, exe, append([]string{"bench", "--exec-rss", "--"}, args...)...)
	c.cmd.Env = env
	c.cmd.Stdout = &c.stdout
	c.cmd.Cancel = func() error { return c.cmd.Process.Signal(stopSignal) }
	c.cmd.WaitDelay = time.Minute
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			if c.tail = append(c.tail, line); len(c.tail) > 40 {
				c.tail = c.tail[1:]
			}
			c.mu.Unlock()
			onLine(line)
		}
		io.Copy(io.Discard, stderr)
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// wait waits for the command to end and returns its peak RSS in bytes.
func (c *child) wait() (int64, error) {
	<-c.exited
	if c.err != nil {
		return 0, fmt.Errorf("%w\n%s", c.err, c.output())
	}
	rss, ok := parsePeakRSS(c.stdout.String())
	if !ok {
		return 0, fmt.Errorf("no peak RSS reported:\n%s", c.output())
	}
	return rss, nil
}

// stop asks a command that runs until stopped to stop (as a signal from
// the terminal would), waits for it and returns its peak RSS.
func (c *child) stop() (int64, error) {
	select {
	case <-c.exited:
	default:
		c.cmd.Process.Signal(stopSignal)
		select {
		case <-c.exited:
		case <-time.After(time.Minute):
			c.cmd.Process.Kill()
		}
	}
	return c.wait()
}

// output is the command's stdout and the last lines of its stderr.
func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out string
	select {
	case <-c.exited:
		out = c.stdout.String()
	default:
	}
	return out + strings.Join(c.tail, "\n")
}
