package sharpspringsim

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit/simtest"
)

func TestMalformedAnswers(t *testing.T) {
	tests := []struct {
		fault       Fault
		contentType string
	}{
		{FaultMalformedJSON, "application/json"},
		{FaultMalformedHTML, "text/html"},
	}
	for _, tc := range tests {
		for _, method := range []string{"createLeads", "updateLeads", "deleteLeads", "getLeads"} {
			t.Run(tc.fault.String()+"/"+method, func(t *testing.T) {
				h := newHarness(t, Options{})
				id := h.mustCreate(map[string]any{"emailAddress": "keep@x.test", "firstName": "Old"})[0]
				params := map[string]map[string]any{
					"createLeads": objs(map[string]any{"emailAddress": "m@x.test"}),
					"updateLeads": objs(map[string]any{"id": id, "firstName": "New"}),
					"deleteLeads": objs(map[string]any{"id": id}),
					"getLeads":    listParams(),
				}[method]
				h.sim.Script(method, tc.fault)
				r := h.call(method, params)
				if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), tc.contentType) {
					t.Fatalf("HTTP %d %q, want 200 %s", r.Status, r.Header.Get("Content-Type"), tc.contentType)
				}
				if json.Valid(r.Body) {
					t.Fatalf("body is valid JSON: %s", r.Body)
				}
				leads := h.sim.Leads()
				if len(leads) != 1 || !leads[0].Active || *leads[0].Fields["firstName"] != "Old" {
					t.Fatalf("a malformed answer must apply nothing: %+v", leads)
				}
				// The retry a client makes is applied exactly once.
				if r := h.call(method, params); r.errCode() != 0 || strings.Contains(string(r.Body), `"success":false`) {
					t.Fatalf("retry: %s", r.Body)
				}
				st := h.sim.Stats()
				if st.FaultsInjected[tc.fault.String()] != 1 || len(st.FaultsInjected) != 1 {
					t.Errorf("FaultsInjected %v", st.FaultsInjected)
				}
				if l := h.sim.RequestLog()[1]; l.Fault != tc.fault || l.HTTPStatus != 200 || len(l.Codes) != 0 {
					t.Errorf("log %+v", l)
				}
			})
		}
	}

	t.Run("random draws both shapes", func(t *testing.T) {
		h := newHarness(t, Options{})
		h.sim.SetFaults(Faults{MalformedRate: 1, Seed: 5})
		for i := range 20 {
			if r := h.call("createLeads", objs(map[string]any{"emailAddress": fmt.Sprintf("m%d@x.test", i)})); json.Valid(r.Body) {
				t.Fatalf("call %d: valid body %s", i, r.Body)
			}
		}
		st := h.sim.Stats()
		if st.FaultsInjected["malformedJSON"] == 0 || st.FaultsInjected["malformedHTML"] == 0 ||
			st.FaultsInjected["malformedJSON"]+st.FaultsInjected["malformedHTML"] != 20 {
			t.Errorf("FaultsInjected %v", st.FaultsInjected)
		}
		if len(h.sim.Leads()) != 0 || st.ObjectsWritten != 0 {
			t.Error("malformed answers applied writes")
		}
	})
}

func TestQuotaRate(t *testing.T) {
	h := newHarness(t, Options{})
	h.sim.SetFaults(Faults{QuotaRate: 1, Method: "createLeads"})
	for i := range 3 {
		if r := h.call("createLeads", objs(map[string]any{"emailAddress": fmt.Sprintf("q%d@x.test", i)})); r.Status != 200 || r.errCode() != CodeDailyLimit {
			t.Fatalf("HTTP %d %s, want 200 with 106", r.Status, r.Body)
		}
	}
	if r := h.call("getLeads", listParams()); r.errCode() != 0 {
		t.Fatalf("out of scope: %s", r.Body)
	}
	st := h.sim.Stats()
	if st.Rejected106 != 3 || st.FaultsInjected["code106"] != 3 || len(h.sim.Leads()) != 0 {
		t.Errorf("stats %+v, %d leads", st, len(h.sim.Leads()))
	}
}

func TestRandomTimeout(t *testing.T) {
	t.Run("ends with the client's context", func(t *testing.T) {
		h := newHarness(t, Options{})
		h.sim.SetFaults(Faults{TimeoutRate: 1, Method: "createLeads"})
		if l := h.heldCreate(); l.Fault != FaultTimeout || l.HTTPStatus != 0 {
			t.Errorf("log %+v", l)
		}
		if len(h.sim.Leads()) != 0 || h.sim.Stats().FaultsInjected["timeout"] != 1 {
			t.Errorf("applied or not counted: %+v", h.sim.Stats())
		}
	})

	t.Run("cap closes the connection without an answer", func(t *testing.T) {
		h := newHarness(t, Options{})
		h.sim.SetFaults(Faults{TimeoutRate: 1, TimeoutCap: 30 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := h.post(ctx, h.url(VersionV12), envelopeBody("createLeads", objs(map[string]any{"emailAddress": "t@x.test"})), nil)
		if err == nil || ctx.Err() != nil {
			t.Fatalf("err = %v (ctx %v), want a connection error before the client's deadline", err, ctx.Err())
		}
		if len(h.sim.Leads()) != 0 {
			t.Error("held request was applied")
		}
	})

	t.Run("Close releases a held request", func(t *testing.T) {
		h := newHarness(t, Options{})
		h.sim.Script("createLeads", FaultTimeout)
		simtest.ReleasedByClose(t, func() error {
			_, err := h.post(context.Background(), h.url(VersionV12), envelopeBody("createLeads", objs(map[string]any{"emailAddress": "t@x.test"})), nil)
			return err
		}, func() bool { return h.sim.Stats().FaultsInjected["timeout"] == 1 }, h.sim.Close)
	})
}

func TestServerErrorBurst(t *testing.T) {
	const burstLen = 4
	h := newHarness(t, Options{})
	h.sim.SetFaults(Faults{Method: "getLeads", ServerErrorRate: 0.1, ServerErrorBurst: burstLen, Seed: 11})
	var statuses []int
	for range 200 {
		statuses = append(statuses, h.call("getLeads", listParams()).Status)
		// Requests outside the scope neither fail nor shorten a burst.
		if r := h.call("getFields", listParams()); r.Status != 200 {
			t.Fatalf("getFields HTTP %d", r.Status)
		}
	}
	// Every run of one 5xx status is one burst or several back to back.
	failed, bursts := simtest.Bursts(t, statuses, burstLen)
	if bursts < 2 {
		t.Fatalf("only %d bursts in %v", bursts, statuses)
	}
	st := h.sim.Stats()
	if st.FaultsInjected["http500"]+st.FaultsInjected["http503"] != failed || st.HTTPErrors[500]+st.HTTPErrors[503] != failed {
		t.Errorf("%d failures, stats %+v", failed, st)
	}
}

func TestScriptDoesNotUseUpABurst(t *testing.T) {
	h := newHarness(t, Options{})
	h.sim.SetFaults(Faults{ServerErrorRate: 1, ServerErrorBurst: 3, Seed: 1})
	first := h.call("getLeads", listParams()).Status // drawn: starts the burst
	h.sim.Script("getLeads", Fault999)
	if r := h.call("getLeads", listParams()); r.errCode() != 999 {
		t.Fatalf("scripted fault lost: %s", r.Body)
	}
	for i := range 2 {
		if s := h.call("getLeads", listParams()).Status; s != first {
			t.Fatalf("burst call %d: HTTP %d, want %d", i, s, first)
		}
	}
}

// faultSequence is the fault each logged request met, oldest first.
func faultSequence(h *harness) []Fault {
	var out []Fault
	for _, l := range h.sim.RequestLog() {
		out = append(out, l.Fault)
	}
	return out
}

func TestEveryFaultTogetherIsSeeded(t *testing.T) {
	all := Faults{
		ServerErrorRate: 0.08, ServerErrorBurst: 2, Code999Rate: 0.05, UnavailableRate: 0.05, RateLimitRate: 0.08,
		DropAfterCommitRate: 0.08, QuotaRate: 0.05, TimeoutRate: 0.05, TimeoutCap: 10 * time.Millisecond,
		MalformedRate: 0.1, Latency: time.Millisecond,
	}
	run := func(seed int64) ([]Fault, *harness) {
		h := newHarness(t, Options{})
		f := all
		f.Seed = seed
		h.sim.SetFaults(f)
		simtest.Calls(t, 150, func(ctx context.Context, i int) error {
			_, err := h.post(ctx, h.url(VersionV12), envelopeBody("createLeads", objs(map[string]any{"emailAddress": fmt.Sprintf("s%d@x.test", i)})), nil)
			return err
		})
		return faultSequence(h), h
	}
	a, h := run(3)
	b, _ := run(3)
	c, _ := run(4)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds gave the same faults")
	}
	seen := simtest.Tally(t, a, FaultNone, Fault500, Fault503, Fault999, FaultUnavailable, Fault107, Fault106,
		FaultDropAfterCommit, FaultTimeout, FaultMalformedJSON, FaultMalformedHTML)
	applied := seen[FaultNone] + seen[FaultDropAfterCommit]
	st := h.sim.Stats()
	if len(h.sim.Leads()) != applied || st.ObjectsWritten != applied {
		t.Errorf("%d leads, %d written, want %d (fault-free and dropped-after-commit calls only)", len(h.sim.Leads()), st.ObjectsWritten, applied)
	}
	simtest.FaultCounts(t, st.FaultsInjected, seen, len(a))
}
