package ivvysim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
	"github.com/crmsync/crmsync/vendors/simkit/simtest"
)

// live is a simulator on a real HTTP server with a settable clock.
type live struct {
	t   *testing.T
	sim *ivvysim.Server
	srv *httptest.Server
	clk *simtest.Clock
}

func newLive(t *testing.T, opts ivvysim.Options) *live {
	t.Helper()
	l := &live{t: t, clk: simtest.NewClock(t0)}
	opts.Now = l.clk.Now
	l.sim = ivvysim.New(opts)
	l.srv = httptest.NewServer(l.sim)
	t.Cleanup(l.srv.Close)
	t.Cleanup(l.sim.Close) // runs first: releases held requests
	return l
}

// post sends a signed call over HTTP; err is a transport error.
func (l *live) post(ctx context.Context, action string, params any) (simtest.Answer, error) {
	l.t.Helper()
	b, _ := json.Marshal(params)
	sr := signed(l.t, action, string(b), l.clk.Now(), nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.srv.URL+sr.RequestURI, strings.NewReader(string(b)))
	if err != nil {
		l.t.Fatal(err)
	}
	req.Header = sr.Header
	return simtest.Do(l.srv.Client(), req)
}

func (l *live) call(action string, params any) simtest.Answer {
	l.t.Helper()
	r, err := l.post(context.Background(), action, params)
	if err != nil {
		l.t.Fatalf("%s: %v", action, err)
	}
	return r
}

func contact(i int) map[string]any {
	return map[string]any{"firstName": "Ann", "lastName": fmt.Sprint("Lee", i), "email": fmt.Sprintf("ann%d@example.com", i)}
}

func TestRateLimitFaultRetryAfter(t *testing.T) {
	cases := []struct {
		name   string
		faults ivvysim.Faults
		script []ivvysim.Fault
		want   string // Retry-After header; "" = absent
		fault  string
	}{
		{"random without Retry-After", ivvysim.Faults{RateLimitRate: 1}, nil, "", "http429"},
		{"random with Retry-After rounded up", ivvysim.Faults{RateLimitRate: 1, RetryAfter: 1500 * time.Millisecond}, nil, "2", "http429RetryAfter"},
		{"scripted without", ivvysim.Faults{}, []ivvysim.Fault{ivvysim.Fault429}, "", "http429"},
		{"scripted with the default", ivvysim.Faults{}, []ivvysim.Fault{ivvysim.Fault429RetryAfter}, "7", "http429RetryAfter"},
		{"scripted with Faults.RetryAfter", ivvysim.Faults{RetryAfter: 3 * time.Second}, []ivvysim.Fault{ivvysim.Fault429RetryAfter}, "3", "http429RetryAfter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLive(t, ivvysim.Options{})
			l.sim.SetFaults(tc.faults)
			l.sim.Script("contact.addOrUpdateContact", tc.script...)
			r := l.call("contact.addOrUpdateContact", contact(1))
			if r.Status != 429 || r.JSON()["errorCode"] != float64(429) {
				t.Fatalf("HTTP %d %s", r.Status, r.Body)
			}
			if got, present := r.Header.Get("Retry-After"), len(r.Header.Values("Retry-After")) > 0; got != tc.want || present != (tc.want != "") {
				t.Fatalf("Retry-After %q (present %v), want %q", got, present, tc.want)
			}
			if len(l.sim.Contacts()) != 0 {
				t.Fatal("a 429 applied the write")
			}
			if st := l.sim.Stats(); st.FaultsInjected[tc.fault] != 1 || st.HTTPErrors[429] != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestMalformedAnswers(t *testing.T) {
	for _, f := range []ivvysim.Fault{ivvysim.FaultMalformedJSON, ivvysim.FaultMalformedHTML} {
		for _, action := range []string{"contact.addOrUpdateContact", "contact.getContactList", "test.ping"} {
			t.Run(f.String()+"/"+action, func(t *testing.T) {
				l := newLive(t, ivvysim.Options{})
				l.sim.Script(action, f)
				params := map[string]any{}
				if action == "contact.addOrUpdateContact" {
					params = contact(1)
				}
				r := l.call(action, params)
				wantType := map[ivvysim.Fault]string{ivvysim.FaultMalformedJSON: "application/json", ivvysim.FaultMalformedHTML: "text/html"}[f]
				if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), wantType) || json.Valid(r.Body) {
					t.Fatalf("HTTP %d %q %s", r.Status, r.Header.Get("Content-Type"), r.Body)
				}
				if len(l.sim.Contacts()) != 0 {
					t.Fatal("a malformed answer applied the write")
				}
				// The retry is applied exactly once.
				if r := l.call(action, params); r.Status != 200 || !json.Valid(r.Body) {
					t.Fatalf("retry: %d %s", r.Status, r.Body)
				}
				if action == "contact.addOrUpdateContact" && len(l.sim.Contacts()) != 1 {
					t.Fatalf("%d contacts after the retry", len(l.sim.Contacts()))
				}
				if st := l.sim.Stats(); st.FaultsInjected[f.String()] != 1 {
					t.Fatalf("FaultsInjected %v", st.FaultsInjected)
				}
				if lg := l.sim.RequestLog()[0]; lg.Fault != f || lg.HTTPStatus != 200 {
					t.Fatalf("log %+v", lg)
				}
			})
		}
	}
}

func TestTimeoutFault(t *testing.T) {
	t.Run("random: ends with the client's context", func(t *testing.T) {
		l := newLive(t, ivvysim.Options{})
		l.sim.SetFaults(ivvysim.Faults{TimeoutRate: 1, Action: "contact.addOrUpdateContact"})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := l.post(ctx, "contact.addOrUpdateContact", contact(1)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		simtest.Eventually(t, "the held request to end", func() bool { return len(l.sim.RequestLog()) == 1 })
		if lg := l.sim.RequestLog()[0]; lg.Fault != ivvysim.FaultTimeout || lg.HTTPStatus != 0 {
			t.Fatalf("log %+v", lg)
		}
		if len(l.sim.Contacts()) != 0 || l.sim.Stats().FaultsInjected["timeout"] != 1 {
			t.Fatalf("applied or not counted: %+v", l.sim.Stats())
		}
		if r := l.call("test.ping", nil); r.Status != 200 {
			t.Fatalf("out of scope: %d", r.Status)
		}
	})
	t.Run("cap closes the connection without an answer", func(t *testing.T) {
		l := newLive(t, ivvysim.Options{})
		l.sim.SetFaults(ivvysim.Faults{TimeoutRate: 1, TimeoutCap: 30 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := l.post(ctx, "contact.addOrUpdateContact", contact(1)); err == nil || ctx.Err() != nil {
			t.Fatalf("err = %v (ctx %v), want a connection error before the deadline", err, ctx.Err())
		}
		if len(l.sim.Contacts()) != 0 {
			t.Fatal("held request applied")
		}
	})
	t.Run("Close releases a held request", func(t *testing.T) {
		l := newLive(t, ivvysim.Options{})
		l.sim.Script("test.ping", ivvysim.FaultTimeout)
		simtest.ReleasedByClose(t, func() error {
			_, err := l.post(context.Background(), "test.ping", nil)
			return err
		}, func() bool { return l.sim.Stats().FaultsInjected["timeout"] == 1 }, l.sim.Close)
	})
}

func TestServerErrorBurst(t *testing.T) {
	const burstLen = 3
	l := newLive(t, ivvysim.Options{})
	l.sim.SetFaults(ivvysim.Faults{Action: "test.ping", ServerErrorRate: 0.12, ServerErrorBurst: burstLen, Seed: 5})
	var statuses []int
	for range 150 {
		statuses = append(statuses, l.call("test.ping", nil).Status)
		if r := l.call("crm.getLeadSourceList", nil); r.Status != 200 {
			t.Fatalf("out of scope: HTTP %d", r.Status)
		}
	}
	// Every run of one 5xx status is one burst or several back to back.
	failed, bursts := simtest.Bursts(t, statuses, burstLen)
	st := l.sim.Stats()
	if bursts < 2 || st.FaultsInjected["http500"]+st.FaultsInjected["http503"] != failed {
		t.Fatalf("%d bursts, %d failures, FaultsInjected %v", bursts, failed, st.FaultsInjected)
	}
}

func TestWindowCounts(t *testing.T) {
	l := newLive(t, ivvysim.Options{RateLimitPerSecond: 4})
	// 3 at .2 and 2 at .9 of one second, 3 at .1 of the next: at most 5 in
	// a UTC second, 8 in the sliding second ending at 1.1.
	plan := []struct {
		at time.Duration
		n  int
	}{{200 * time.Millisecond, 3}, {900 * time.Millisecond, 2}, {1100 * time.Millisecond, 3}}
	statuses := map[int]int{}
	for _, p := range plan {
		l.clk.Set(t0.Add(p.at))
		for range p.n {
			statuses[l.call("test.ping", nil).Status]++
		}
	}
	st := l.sim.Stats()
	if st.MaxInFixedSecond != 5 || st.MaxInSlidingSecond != 8 || st.MaxPerSecond != 8 {
		t.Fatalf("fixed %d sliding %d (MaxPerSecond %d), want 5, 8", st.MaxInFixedSecond, st.MaxInSlidingSecond, st.MaxPerSecond)
	}
	// The limiter's own window leaves refused requests out: 3 + 1 pass in
	// the first second, and (0.1, 1.1] already holds those 4.
	if statuses[200] != 4 || statuses[429] != 4 || st.HTTPErrors[429] != 4 {
		t.Fatalf("statuses %v, stats %+v", statuses, st)
	}
	l.sim.ResetStats()
	if st := l.sim.Stats(); st.MaxInFixedSecond != 0 || st.MaxInSlidingSecond != 0 {
		t.Fatalf("after reset: %+v", st)
	}
}

func TestEveryFaultTogetherIsSeeded(t *testing.T) {
	all := ivvysim.Faults{RateLimitRate: 0.06, ServerErrorRate: 0.1, ServerErrorBurst: 2, DropAfterCommitRate: 0.1,
		TimeoutRate: 0.06, TimeoutCap: 10 * time.Millisecond, MalformedRate: 0.12, Latency: time.Millisecond}
	run := func(seed int64, retryAfter time.Duration) ([]ivvysim.Fault, *live) {
		l := newLive(t, ivvysim.Options{})
		f := all
		f.Seed, f.RetryAfter = seed, retryAfter
		l.sim.SetFaults(f)
		simtest.Calls(t, 120, func(ctx context.Context, i int) error {
			_, err := l.post(ctx, "contact.addOrUpdateContact", contact(i))
			return err
		})
		var seq []ivvysim.Fault
		for _, lg := range l.sim.RequestLog() {
			seq = append(seq, lg.Fault)
		}
		return seq, l
	}
	a, l := simtest.SameDraws(t, 8, ivvysim.Fault429, ivvysim.Fault429RetryAfter, run)
	seen := simtest.Tally(t, a, ivvysim.FaultNone, ivvysim.Fault429, ivvysim.Fault500, ivvysim.Fault503, ivvysim.FaultDropAfterCommit,
		ivvysim.FaultTimeout, ivvysim.FaultMalformedJSON, ivvysim.FaultMalformedHTML)
	applied := seen[ivvysim.FaultNone] + seen[ivvysim.FaultDropAfterCommit]
	st := l.sim.Stats()
	if len(l.sim.Contacts()) != applied || st.RecordsWritten != applied {
		t.Errorf("%d contacts, %d written, want %d (fault-free and dropped-after-commit calls only)", len(l.sim.Contacts()), st.RecordsWritten, applied)
	}
	simtest.FaultCounts(t, st.FaultsInjected, seen, len(a))
	if st.Dropped != seen[ivvysim.FaultDropAfterCommit] {
		t.Errorf("stats %+v", st)
	}
}
