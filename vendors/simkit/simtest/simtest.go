// Package simtest holds the test helpers shared by the tests of the vendor
// simulators and of the clients, sources and sinks run against them: a
// settable clock for Options.Now (and the client's Now), an HTTP answer
// read whole, polling for a condition instead of sleeping, the check that Close
// releases a held request, the check that server errors come in bursts,
// and the checks of a run under random faults.
package simtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
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

// Answer is one HTTP answer as a client received it.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON is the body decoded as a JSON object; nil when it is not one.
func (a Answer) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(a.Body, &m)
	return m
}

// Do sends req with c and reads the whole answer. err is a transport error
// or a failed read of the body.
func Do(c *http.Client, req *http.Request) (Answer, error) {
	res, err := c.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return Answer{res.StatusCode, res.Header, b}, err
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

// ReleasedByClose fails the test unless a request held without an answer
// ends, still without one, when the simulator closes: send makes the
// request the simulator was scripted to hold, held reports that it holds
// it, and closeSim closes the simulator.
func ReleasedByClose(t testing.TB, send func() error, held func() bool, closeSim func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- send() }()
	Eventually(t, "the request to be held", held)
	closeSim()
	if err := <-errc; err == nil {
		t.Fatal("a held request got an answer")
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

// Calls makes n calls, the i-th by call(ctx, i), each with a context that
// ends after 30 seconds, and fails the test when a call outlives its
// context: a held request was not released by the timeout cap.
func Calls(t testing.TB, n int, call func(ctx context.Context, i int) error) {
	t.Helper()
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := call(ctx, i)
		if ctx.Err() != nil {
			cancel()
			t.Fatalf("call %d hung past the cap: %v", i, err)
		}
		cancel()
	}
}

// Tally counts each fault of seq, the faults the requests of a run met,
// and fails the test when one of want is never among them.
func Tally[F comparable](t testing.TB, seq []F, want ...F) map[F]int {
	t.Helper()
	seen := map[F]int{}
	for _, f := range seq {
		seen[f]++
	}
	for _, f := range want {
		if seen[f] == 0 {
			t.Errorf("never drew %v: %v", f, seen)
		}
	}
	return seen
}

// FaultCounts fails the test when counts, a simulator's
// Stats.FaultsInjected, disagree with seen, the faults of its requests
// (see Tally), or when simkit.LatencyKey does not count each of the calls
// requests of a run that delays every request.
func FaultCounts[F simkit.Fault](t testing.TB, counts map[string]int, seen map[F]int, calls int) {
	t.Helper()
	var none F
	for f, n := range seen {
		if f != none && counts[f.String()] != n {
			t.Errorf("FaultsInjected[%v] = %d, log has %d", f, counts[f.String()], n)
		}
	}
	if counts[simkit.LatencyKey] != calls {
		t.Errorf("latency counted %d times for %d calls", counts[simkit.LatencyKey], calls)
	}
}

// SameDraws fails the test unless run, which sends the same requests to a
// fresh simulator with every random fault on, draws the same faults twice
// with seed and others with seed+1, and unless a RetryAfter changes which
// 429 is answered (plain to hinted), never the draws. It returns the
// faults and the simulator of the first run.
func SameDraws[F comparable, S any](t testing.TB, seed int64, plain, hinted F, run func(seed int64, retryAfter time.Duration) ([]F, S)) ([]F, S) {
	t.Helper()
	a, sim := run(seed, 0)
	b, _ := run(seed, 0)
	c, _ := run(seed+1, 0)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Fatalf("seed %d twice:\n%v\n%v\nseed %d:\n%v", seed, a, b, seed+1, c)
	}
	withHint, _ := run(seed, time.Second)
	for i, f := range a {
		if g := withHint[i]; g != f && (f != plain || g != hinted) {
			t.Fatalf("call %d: %v without RetryAfter, %v with", i, f, g)
		}
	}
	return a, sim
}
