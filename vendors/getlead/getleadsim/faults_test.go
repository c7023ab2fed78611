package getleadsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit/simtest"
)

// faultSim starts a simulator whose held requests are released on cleanup.
func faultSim(t *testing.T, opts Options) (*Server, *httptest.Server, *simtest.Clock) {
	t.Helper()
	sim, srv, clk := newSim(t, opts)
	t.Cleanup(sim.Close) // runs before srv.Close
	return sim, srv, clk
}

// send posts to the V3 API (path under /api/v1) or, for a path starting
// with "gl-", to the classic API as a form; err is a transport error.
func send(ctx context.Context, srv *httptest.Server, method, path string, body any) (simtest.Answer, error) {
	var req *http.Request
	if strings.HasPrefix(path, "gl-") {
		form := body.(url.Values)
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/"+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = strings.NewReader(string(b))
		}
		req, _ = http.NewRequestWithContext(ctx, method, srv.URL+"/api/v1"+path, rd)
		req.Header.Set("Authorization", "Bearer "+DefaultAPIKey)
		req.Header.Set("Content-Type", "application/json")
	}
	return simtest.Do(srv.Client(), req)
}

func mustSend(t *testing.T, srv *httptest.Server, method, path string, body any) simtest.Answer {
	t.Helper()
	r, err := send(context.Background(), srv, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func newLeadBody(i int) map[string]any {
	return map[string]any{"name": fmt.Sprint("L", i), "phone_numbers": []string{fmt.Sprintf("+9198765%05d", i)}}
}

func noteForm() url.Values {
	return url.Values{"token": {DefaultToken}, "note": {"n"}, "countrycode": {"91"}, "mobile_no": {"9876543210"}}
}

func TestRateLimitFaultRetryAfter(t *testing.T) {
	cases := []struct {
		name   string
		faults Faults
		script []Fault
		want   int // retry_after and Retry-After; 0 = both absent
		fault  string
	}{
		{"random without", Faults{RateLimitRate: 1}, nil, 0, "http429"},
		{"random with, rounded up", Faults{RateLimitRate: 1, RetryAfter: 2500 * time.Millisecond}, nil, 3, "http429RetryAfter"},
		{"scripted default", Faults{}, []Fault{Fault429}, ScriptedRetryAfter, "http429RetryAfter"},
		{"scripted with Faults.RetryAfter", Faults{RetryAfter: 4 * time.Second}, []Fault{Fault429}, 4, "http429RetryAfter"},
		{"scripted without", Faults{}, []Fault{Fault429NoRetryAfter}, 0, "http429"},
	}
	for _, tc := range cases {
		for _, api := range []string{APIV3, APIClassic} {
			t.Run(tc.name+"/"+api, func(t *testing.T) {
				sim, srv, _ := faultSim(t, Options{})
				sim.SetFaults(tc.faults)
				sim.SeedLead(LeadSeed{Phones: []string{"+919876543210"}})
				var r simtest.Answer
				if api == APIV3 {
					sim.Script("leads.create", tc.script...)
					r = mustSend(t, srv, "POST", "/leads", newLeadBody(1))
				} else {
					sim.Script("gl-note-creation-api", tc.script...)
					r = mustSend(t, srv, "POST", "gl-note-creation-api", noteForm())
				}
				body := r.JSON()
				if r.Status != 429 || body["message"] == nil {
					t.Fatalf("HTTP %d %s", r.Status, r.Body)
				}
				ra, inBody := body["retry_after"]
				hdr, inHeader := r.Header.Get("Retry-After"), len(r.Header.Values("Retry-After")) > 0
				if tc.want == 0 && (inBody || inHeader) {
					t.Fatalf("want no retry hint: body %s, header %q", r.Body, hdr)
				}
				if tc.want != 0 && (ra != float64(tc.want) || hdr != fmt.Sprint(tc.want)) {
					t.Fatalf("retry_after %v, Retry-After %q, want %d", ra, hdr, tc.want)
				}
				if l := sim.Leads(); len(l) != 1 || len(l[0].Notes) != 0 {
					t.Fatalf("a 429 applied the write: %+v", l)
				}
				if st := sim.Stats(); st.FaultsInjected[tc.fault] != 1 || st.RateLimited != 1 {
					t.Fatalf("stats %+v", st)
				}
			})
		}
	}
}

func TestMalformedAnswers(t *testing.T) {
	for _, f := range []Fault{FaultMalformedJSON, FaultMalformedHTML} {
		wantType := map[Fault]string{FaultMalformedJSON: "application/json", FaultMalformedHTML: "text/html"}[f]
		cases := []struct {
			endpoint, method, path string
			body                   func() any
			applied                func(*Server) int // how many times the write took effect
		}{
			{"leads.create", "POST", "/leads", func() any { return newLeadBody(1) }, func(s *Server) int { return len(s.Leads()) - 1 }},
			{"leads.notes", "POST", "/leads/by-identifier/notes", func() any { return map[string]any{"phone_number": "+919876543210", "content": "c"} },
				func(s *Server) int { return len(s.Leads()[0].Notes) }},
			{"leads.list", "GET", "/leads", func() any { return nil }, func(*Server) int { return 0 }},
			{"gl-note-creation-api", "POST", "gl-note-creation-api", func() any { return noteForm() }, func(s *Server) int { return len(s.Leads()[0].Notes) }},
		}
		for _, tc := range cases {
			t.Run(f.String()+"/"+tc.endpoint, func(t *testing.T) {
				sim, srv, _ := faultSim(t, Options{})
				sim.SeedLead(LeadSeed{Phones: []string{"+919876543210"}})
				sim.Script(tc.endpoint, f)
				r := mustSend(t, srv, tc.method, tc.path, tc.body())
				if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), wantType) || json.Valid(r.Body) {
					t.Fatalf("HTTP %d %q %s", r.Status, r.Header.Get("Content-Type"), r.Body)
				}
				if n := tc.applied(sim); n != 0 {
					t.Fatalf("a malformed answer applied the write %d times", n)
				}
				// The retry is applied exactly once (a lead create would
				// answer 409 if the first had been applied).
				if r := mustSend(t, srv, tc.method, tc.path, tc.body()); r.Status >= 300 || !json.Valid(r.Body) {
					t.Fatalf("retry: HTTP %d %s", r.Status, r.Body)
				}
				if n := tc.applied(sim); tc.method == "POST" && n != 1 {
					t.Fatalf("applied %d times after the retry", n)
				}
				if st := sim.Stats(); st.FaultsInjected[f.String()] != 1 {
					t.Fatalf("FaultsInjected %v", st.FaultsInjected)
				}
				if lg := sim.RequestLog()[0]; lg.Fault != f || lg.HTTPStatus != 200 || lg.Endpoint != tc.endpoint {
					t.Fatalf("log %+v", lg)
				}
			})
		}
	}
}

func TestTimeoutFault(t *testing.T) {
	for _, path := range []string{"/leads", "gl-note-creation-api"} {
		t.Run("ends with the client's context "+path, func(t *testing.T) {
			sim, srv, _ := faultSim(t, Options{})
			sim.SeedLead(LeadSeed{Phones: []string{"+919876543210"}})
			sim.SetFaults(Faults{TimeoutRate: 1})
			body := any(newLeadBody(1))
			if path != "/leads" {
				body = noteForm()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if _, err := send(ctx, srv, "POST", path, body); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want deadline exceeded", err)
			}
			// The held handler ends when the client leaves.
			simtest.Eventually(t, "the held request to end", func() bool { return len(sim.RequestLog()) == 1 })
			if lg := sim.RequestLog()[0]; lg.Fault != FaultTimeout || lg.HTTPStatus != 0 {
				t.Fatalf("log %+v", lg)
			}
			if l := sim.Leads(); len(l) != 1 || len(l[0].Notes) != 0 || sim.Stats().FaultsInjected["timeout"] != 1 {
				t.Fatalf("applied or not counted: %+v %+v", l, sim.Stats())
			}
		})
	}
	t.Run("cap closes the connection without an answer", func(t *testing.T) {
		sim, srv, _ := faultSim(t, Options{})
		sim.SetFaults(Faults{TimeoutRate: 1, TimeoutCap: 30 * time.Millisecond, Endpoint: "leads.create"})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := send(ctx, srv, "POST", "/leads", newLeadBody(1)); err == nil || ctx.Err() != nil {
			t.Fatalf("err = %v (ctx %v), want a connection error before the deadline", err, ctx.Err())
		}
		if len(sim.Leads()) != 0 || sim.Stats().HTTPStatus[0] != 1 || sim.Stats().Dropped != 0 {
			t.Fatalf("leads %v, stats %+v", sim.Leads(), sim.Stats())
		}
		if r := mustSend(t, srv, "GET", "/meta", nil); r.Status != 200 {
			t.Fatalf("out of scope: %d", r.Status)
		}
	})
	t.Run("Close releases a held request", func(t *testing.T) {
		sim, srv, _ := faultSim(t, Options{})
		sim.Script("leads.create", FaultTimeout)
		simtest.ReleasedByClose(t, func() error {
			_, err := send(context.Background(), srv, "POST", "/leads", newLeadBody(1))
			return err
		}, func() bool { return sim.Stats().FaultsInjected["timeout"] == 1 }, sim.Close)
	})
}

func TestLatency(t *testing.T) {
	sim, srv, _ := faultSim(t, Options{})
	sim.SetFaults(Faults{Latency: time.Hour, Endpoint: "leads.create"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := send(ctx, srv, "POST", "/leads", newLeadBody(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if r := mustSend(t, srv, "GET", "/meta", nil); r.Status != 200 {
		t.Fatalf("out of scope was delayed or failed: %d", r.Status)
	}
	if len(sim.Leads()) != 0 || sim.Stats().FaultsInjected[LatencyKey] != 1 {
		t.Fatalf("leads %v, stats %+v", sim.Leads(), sim.Stats())
	}
}

func TestDropAfterCommitRate(t *testing.T) {
	sim, srv, _ := faultSim(t, Options{})
	sim.SetFaults(Faults{DropAfterCommitRate: 1, Endpoint: "leads.create"})
	if _, err := send(context.Background(), srv, "POST", "/leads", newLeadBody(1)); err == nil {
		t.Fatal("want a dropped connection")
	}
	if len(sim.Leads()) != 1 {
		t.Fatal("the write was not applied before the drop")
	}
	// The client's retry finds the lead: an in-doubt write.
	if r := mustSend(t, srv, "PATCH", "/leads/by-identifier", map[string]any{"phone_number": "+919876500001", "name": "x"}); r.Status != 200 {
		t.Fatalf("by-identifier %d %s", r.Status, r.Body)
	}
	if st := sim.Stats(); st.Dropped != 1 || st.FaultsInjected["dropAfterCommit"] != 1 || st.HTTPStatus[0] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestServerErrorBurst(t *testing.T) {
	const burstLen = 5
	sim, srv, _ := faultSim(t, Options{})
	sim.SetFaults(Faults{Endpoint: "meta", ServerErrorRate: 0.08, ServerErrorBurst: burstLen, Seed: 2})
	var statuses []int
	for range 200 {
		statuses = append(statuses, mustSend(t, srv, "GET", "/meta", nil).Status)
		if r := mustSend(t, srv, "GET", "/leads", nil); r.Status != 200 {
			t.Fatalf("out of scope: HTTP %d", r.Status)
		}
	}
	// Every run of one 5xx status is one burst or several back to back.
	failed, bursts := simtest.Bursts(t, statuses, burstLen)
	st := sim.Stats()
	if bursts < 2 || st.FaultsInjected["http500"]+st.FaultsInjected["http503"] != failed {
		t.Fatalf("%d bursts, %d failures, FaultsInjected %v", bursts, failed, st.FaultsInjected)
	}
}

func TestWindowCounts(t *testing.T) {
	sim, srv, clk := faultSim(t, Options{V3RateLimit: 2, V3RateWindow: time.Second})
	clk.Add(200 * time.Millisecond) // 10:00:00.2
	for range 3 {
		mustSend(t, srv, "GET", "/meta", nil)
	}
	clk.Add(700 * time.Millisecond) // .9
	for range 2 {
		mustSend(t, srv, "GET", "/meta", nil)
	}
	for range 6 { // another credential: counted on its own
		mustSend(t, srv, "POST", "gl-task-creation-api", url.Values{"token": {DefaultToken}, "name": {"t"}})
	}
	clk.Add(200 * time.Millisecond) // 10:00:01.1
	for range 3 {
		mustSend(t, srv, "GET", "/meta", nil)
	}
	st := sim.Stats()
	// V3: 5 in the first UTC second, 8 in (0.1, 1.1], 429s included;
	// classic: 6 in one second.
	if st.MaxInFixedSecond != 6 || st.MaxInSlidingSecond != 8 {
		t.Fatalf("fixed %d, sliding %d, want 6, 8", st.MaxInFixedSecond, st.MaxInSlidingSecond)
	}
	if st.RateLimited == 0 || st.HTTPStatus[429] != st.RateLimited {
		t.Fatalf("stats %+v", st)
	}
	sim.ResetStats()
	if st := sim.Stats(); st.MaxInFixedSecond != 0 || st.MaxInSlidingSecond != 0 || len(sim.RequestLog()) != 0 {
		t.Fatalf("after reset %+v", st)
	}
}

func TestEveryFaultTogetherIsSeeded(t *testing.T) {
	all := Faults{RateLimitRate: 0.08, ServerErrorRate: 0.1, ServerErrorBurst: 2, DropAfterCommitRate: 0.1,
		TimeoutRate: 0.06, TimeoutCap: 10 * time.Millisecond, MalformedRate: 0.12, Latency: time.Millisecond}
	run := func(seed int64, retryAfter time.Duration) ([]Fault, *Server) {
		sim, srv, _ := faultSim(t, Options{})
		f := all
		f.Seed, f.RetryAfter = seed, retryAfter
		sim.SetFaults(f)
		simtest.Calls(t, 120, func(ctx context.Context, i int) error {
			_, err := send(ctx, srv, "POST", "/leads", newLeadBody(i))
			return err
		})
		var seq []Fault
		for _, lg := range sim.RequestLog() {
			seq = append(seq, lg.Fault)
		}
		return seq, sim
	}
	a, sim := simtest.SameDraws(t, 6, Fault429NoRetryAfter, Fault429, run)
	seen := simtest.Tally(t, a, FaultNone, Fault429NoRetryAfter, Fault500, Fault503, FaultDropAfterCommit, FaultTimeout,
		FaultMalformedJSON, FaultMalformedHTML)
	applied := seen[FaultNone] + seen[FaultDropAfterCommit]
	st := sim.Stats()
	if len(sim.Leads()) != applied || st.LeadsAdded != applied || st.Dropped != seen[FaultDropAfterCommit] {
		t.Errorf("%d leads, stats %+v, want %d (fault-free and dropped-after-commit calls only)", len(sim.Leads()), st, applied)
	}
	simtest.FaultCounts(t, st.FaultsInjected, seen, len(a))
}

// giveUp sends a request that the client abandons after a short wait.
func giveUp(t *testing.T, srv *httptest.Server, method, path string, body any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := send(ctx, srv, method, path, body); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s %s: err = %v, want the client's deadline", method, path, err)
	}
}

func contactForm(name string) url.Values {
	return url.Values{"token": {DefaultToken}, "countrycode": {"91"}, "mobileno": {"9876543210"}, "source": {"web"}, "name": {name}}
}

func TestLateApplyLandsAfterANewerWriteOfTheSameLead(t *testing.T) {
	t.Run("classic", func(t *testing.T) {
		sim, srv, _ := faultSim(t, Options{})
		sim.SetFaults(Faults{LateDelay: time.Hour})
		sim.Script("gl-website-contacts", FaultLateApply)
		giveUp(t, srv, "POST", "gl-website-contacts", contactForm("Ann"))
		simtest.Eventually(t, "the write to be held", func() bool { return sim.Stats().LateHeld == 1 })
		if len(sim.Leads()) != 0 {
			t.Fatal("a held write was applied before any later write")
		}
		// Another lead's write does not release it.
		other := contactForm("Other")
		other.Set("mobileno", "9876500000")
		mustSend(t, srv, "POST", "gl-website-contacts", other)
		if st := sim.Stats(); st.LateApplied != 0 {
			t.Fatalf("released by another lead's write: %+v", st)
		}
		mustSend(t, srv, "POST", "gl-website-contacts", contactForm("Bea"))
		l, ok := sim.LeadByPhone("+919876543210")
		if !ok || l.Name != "Ann" || sim.Stats().LateApplied != 1 || sim.Stats().FaultsInjected["lateApply"] != 1 {
			t.Fatalf("lead %+v, stats %+v: want the late Ann over Bea", l, sim.Stats())
		}
		if lg := sim.RequestLog()[0]; lg.Fault != FaultLateApply || lg.HTTPStatus != 0 {
			t.Fatalf("log %+v", lg)
		}
		var names []string
		for _, n := range l.NameHistory {
			names = append(names, n.By+" "+n.Name)
		}
		if got := strings.Join(names, ", "); got != "classic Bea, late Ann" {
			t.Fatalf("name history %q, want the answered Bea, then the late Ann", got)
		}
	})
	t.Run("V3 after two later writes", func(t *testing.T) {
		sim, srv, _ := faultSim(t, Options{})
		id := sim.SeedLead(LeadSeed{Name: "Old", Phones: []string{"+919876543210"}})
		sim.SetFaults(Faults{LateAfterWrites: 2, LateDelay: time.Hour})
		sim.Script("leads.by-identifier", FaultLateApply)
		giveUp(t, srv, "PATCH", "/leads/by-identifier", map[string]any{"phone_number": "+919876543210", "name": "Ann"})
		simtest.Eventually(t, "the write to be held", func() bool { return sim.Stats().LateHeld == 1 })
		mustSend(t, srv, "PATCH", "/leads/by-identifier", map[string]any{"phone_number": "+919876543210", "name": "Ann"})
		if r := mustSend(t, srv, "GET", "/leads/"+id, nil); r.Status != 200 || sim.Stats().LateApplied != 0 {
			t.Fatalf("a read released it, or the get failed: %d %+v", r.Status, sim.Stats())
		}
		mustSend(t, srv, "PATCH", "/leads/"+id, map[string]any{"name": "Bea"})
		if l, _ := sim.LeadByPhone("+919876543210"); l.Name != "Ann" || sim.Stats().LateApplied != 1 {
			t.Fatalf("lead %+v, stats %+v: want the late Ann over Bea", l, sim.Stats())
		}
	})
	t.Run("after the delay when no later write comes", func(t *testing.T) {
		sim, srv, _ := faultSim(t, Options{})
		sim.SetFaults(Faults{LateApplyRate: 1, LateDelay: 20 * time.Millisecond, Endpoint: "leads.create"})
		giveUp(t, srv, "POST", "/leads", newLeadBody(1))
		simtest.Eventually(t, "the late write to land", func() bool { return len(sim.Leads()) == 1 })
		if st := sim.Stats(); st.LateHeld != 1 || st.LateApplied != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("Close drops held writes", func(t *testing.T) {
		sim, srv, _ := faultSim(t, Options{})
		sim.SetFaults(Faults{LateApplyRate: 1, LateDelay: time.Hour, Endpoint: "leads.create"})
		giveUp(t, srv, "POST", "/leads", newLeadBody(1))
		simtest.Eventually(t, "the write to be held", func() bool { return sim.Stats().LateHeld == 1 })
		sim.Close()
		sim.mu.Lock()
		held := sim.held.Len()
		sim.mu.Unlock()
		if held != 0 || len(sim.Leads()) != 0 {
			t.Fatalf("after Close: %d writes held, %d leads", held, len(sim.Leads()))
		}
	})
}

// HeldWrites counts a late write from the moment it arrives, while its
// client still waits for an answer, not only once the client gave up.
func TestHeldWritesCountsALateWriteWhileItsClientWaits(t *testing.T) {
	sim, srv, _ := faultSim(t, Options{})
	sim.SetFaults(Faults{LateDelay: time.Hour})
	sim.Script("gl-website-contacts", FaultLateApply)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := send(ctx, srv, "POST", "gl-website-contacts", contactForm("Ann"))
		done <- err
	}()
	simtest.Eventually(t, "the late write to count while its client waits", func() bool { return sim.HeldWrites() == 1 })
	if st := sim.Stats(); st.LateHeld != 0 {
		t.Fatalf("held before the client gave up: %+v", st)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the client's cancel", err)
	}
	simtest.Eventually(t, "the write to be held", func() bool { return sim.Stats().LateHeld == 1 })
	if n := sim.HeldWrites(); n != 1 {
		t.Fatalf("once held: HeldWrites = %d, want 1", n)
	}
	mustSend(t, srv, "POST", "gl-website-contacts", contactForm("Bea"))
	if n := sim.HeldWrites(); n != 0 {
		t.Fatalf("after it landed: HeldWrites = %d, want 0", n)
	}
}
