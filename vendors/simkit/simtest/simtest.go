// Package simtest holds the test helpers shared by the tests of the vendor
// simulators and of the clients, sources and sinks run against them: a
// settable clock for Options.Now (and the client's Now), polling for a condition instead
// of sleeping, and the check that server errors come in bursts.
package simtest

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// Clock is a settable clock; its Now is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Eventually polls cond every 2 ms until it holds, and fails the test when
// it does not within 5 seconds.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// Bursts checks the HTTP statuses of consecutive requests in a
// server-error burst's scope: every run of one status other than 200 is
// 500 or 503 and a multiple of burstLen long (one burst or several back to
// back; the last run may be cut off). It returns the failed requests and
// the runs.
func Bursts(t testing.TB, statuses []int, burstLen int) (failed, bursts int) {
	t.Helper()
	for i := 0; i < len(statuses); {
		j := i
		for j < len(statuses) && statuses[j] == statuses[i] {
			j++
		}
		if statuses[i] != http.StatusOK {
			if statuses[i] != http.StatusInternalServerError && statuses[i] != http.StatusServiceUnavailable {
				t.Fatalf("status %d at %d: %v", statuses[i], i, statuses)
			}
			if (j-i)%burstLen != 0 && j < len(statuses) {
				t.Fatalf("run of %d × %d at %d, want a multiple of %d: %v", j-i, statuses[i], i, burstLen, statuses)
			}
			failed += j - i
			bursts++
		}
		i = j
	}
	return failed, bursts
}
