package sharpspringsim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestScriptedFaults(t *testing.T) {
	tests := []struct {
		fault      Fault
		wantStatus int
		wantCode   int
		wantMsg    string
	}{
		{Fault500, 500, 0, ""},
		{Fault503, 503, 0, ""},
		{Fault999, 200, 999, ""},
		{FaultUnavailable, 200, 999, UnavailableMessage},
		{Fault107, 200, 107, ""},
		{Fault106, 200, 106, ""},
	}
	for _, tc := range tests {
		t.Run(tc.fault.String(), func(t *testing.T) {
			h := newHarness(t, Options{})
			h.sim.Script("createLeads", tc.fault)
			r := h.call("createLeads", objs(map[string]any{"emailAddress": "f@x.test"}))
			if r.Status != tc.wantStatus || r.errCode() != tc.wantCode {
				t.Fatalf("HTTP %d code %d, want %d/%d: %s", r.Status, r.errCode(), tc.wantStatus, tc.wantCode, r.Body)
			}
			if tc.wantStatus != 200 && !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
			}
			if tc.wantMsg != "" && !strings.Contains(string(r.Body), tc.wantMsg) {
				t.Errorf("body %s", r.Body)
			}
			if len(h.sim.Leads()) != 0 {
				t.Fatal("faulted request was applied")
			}
			// One-shot: the retry goes through.
			if ids := h.mustCreate(map[string]any{"emailAddress": "f@x.test"}); len(ids) != 1 {
				t.Fatal("retry failed")
			}
			log := h.sim.RequestLog()
			if log[0].Fault != tc.fault || log[1].Fault != FaultNone {
				t.Errorf("logged faults %v, %v", log[0].Fault, log[1].Fault)
			}
		})
	}
}

func TestScriptOrderAndScope(t *testing.T) {
	h := newHarness(t, Options{})
	h.sim.Script("getLeads", FaultNone, Fault999)
	h.sim.Script("getLeads", Fault107)
	var codes []int
	for range 4 {
		codes = append(codes, h.call("getLeads", listParams()).errCode())
		// Another method never consumes getLeads' script.
		if r := h.call("getFields", listParams()); r.errCode() != 0 {
			t.Fatalf("getFields: %s", r.Body)
		}
	}
	if !slices.Equal(codes, []int{0, 999, 107, 0}) {
		t.Errorf("codes %v", codes)
	}
}

func TestDropAfterCommit(t *testing.T) {
	h := newHarness(t, Options{})
	h.sim.Script("createLeads", FaultDropAfterCommit)
	_, err := h.post(context.Background(), h.url(VersionV12), envelopeBody("createLeads", objs(map[string]any{"emailAddress": "drop@x.test"})), nil)
	if err == nil {
		t.Fatal("client got a response")
	}
	if _, ok := h.sim.LeadByEmail("drop@x.test"); !ok {
		t.Fatal("write was not applied")
	}
	// The retry a client would make now sees 301.
	r := h.call("createLeads", objs(map[string]any{"emailAddress": "drop@x.test"}))
	if e := r.results("creates")[0].Error; e == nil || e.Code != 301 {
		t.Errorf("retry: %s", r.Body)
	}
	st := h.sim.Stats()
	if st.Dropped != 1 || st.ObjectsWritten != 1 {
		t.Errorf("stats %+v", st)
	}
	if l := h.sim.RequestLog()[0]; l.HTTPStatus != 0 || l.Fault != FaultDropAfterCommit {
		t.Errorf("log %+v", l)
	}
}

// TestTimeoutFaults: both faults hold the request until the client gives
// up; only FaultTimeoutAfterCommit applies it first.
func TestTimeoutFaults(t *testing.T) {
	for _, tc := range []struct {
		fault   Fault
		applied bool
	}{
		{FaultTimeout, false},
		{FaultTimeoutAfterCommit, true},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			h := newHarness(t, Options{})
			h.sim.Script("createLeads", tc.fault)
			l := h.heldCreate()
			leads := h.sim.Leads()
			if _, ok := h.sim.LeadByEmail("t@x.test"); ok != tc.applied || (len(leads) > 0) != tc.applied {
				t.Fatalf("applied = %v (%d leads stored), want %v", ok, len(leads), tc.applied)
			}
			if l.HTTPStatus != 0 || l.Fault != tc.fault {
				t.Errorf("log %+v", l)
			}
		})
	}
}

func TestLatency(t *testing.T) {
	h := newHarness(t, Options{})
	h.sim.SetFaults(Faults{Latency: time.Hour, Method: "createLeads"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := h.post(ctx, h.url(VersionV12), envelopeBody("createLeads", objs(map[string]any{"emailAddress": "slow@x.test"})), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if len(h.sim.Leads()) != 0 {
		t.Error("request applied although the client gave up during the latency")
	}
	// Other methods are not delayed.
	if r := h.call("getLeads", listParams()); r.errCode() != 0 {
		t.Fatal(string(r.Body))
	}

	h.sim.SetFaults(Faults{Latency: 20 * time.Millisecond})
	start := time.Now()
	h.mustCreate(map[string]any{"emailAddress": "slow@x.test"})
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("answered after %v, want ≥ 20ms", d)
	}
}

func TestRandomFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		want   func(r resp) bool
	}{
		{"server errors", Faults{ServerErrorRate: 1}, func(r resp) bool { return r.Status == 500 || r.Status == 503 }},
		{"999", Faults{Code999Rate: 1}, func(r resp) bool { return r.errCode() == 999 }},
		{"unavailable", Faults{UnavailableRate: 1}, func(r resp) bool {
			return r.errCode() == 999 && strings.Contains(string(r.Body), UnavailableMessage)
		}},
		{"spurious 107", Faults{RateLimitRate: 1}, func(r resp) bool { return r.errCode() == 107 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.sim.SetFaults(tc.faults)
			for i := range 5 {
				r := h.call("createLeads", objs(map[string]any{"emailAddress": fmt.Sprintf("r%d@x.test", i)}))
				if !tc.want(r) {
					t.Fatalf("call %d: HTTP %d %s", i, r.Status, r.Body)
				}
			}
			if len(h.sim.Leads()) != 0 {
				t.Error("faulted requests were applied")
			}
		})
	}

	t.Run("drop after commit", func(t *testing.T) {
		h := newHarness(t, Options{})
		h.sim.SetFaults(Faults{DropAfterCommitRate: 1, Method: "createLeads"})
		_, err := h.post(context.Background(), h.url(VersionV12), envelopeBody("createLeads", objs(map[string]any{"emailAddress": "d@x.test"})), nil)
		if err == nil {
			t.Fatal("got a response")
		}
		if len(h.sim.Leads()) != 1 {
			t.Error("write not applied")
		}
		if r := h.call("getLeads", listParams()); r.errCode() != 0 {
			t.Errorf("method filter ignored: %s", r.Body)
		}
	})

	t.Run("seeded draws repeat", func(t *testing.T) {
		run := func() []int {
			h := newHarness(t, Options{})
			h.sim.SetFaults(Faults{Code999Rate: 0.3, RateLimitRate: 0.3, Seed: 42})
			var codes []int
			for range 30 {
				codes = append(codes, h.call("getLeads", listParams()).errCode())
			}
			return codes
		}
		a, b := run(), run()
		if !slices.Equal(a, b) {
			t.Errorf("same seed, different faults:\n%v\n%v", a, b)
		}
		if !slices.Contains(a, 0) || !slices.Contains(a, 999) || !slices.Contains(a, 107) {
			t.Errorf("implausible draw %v", a)
		}
	})
}

func TestRequestLog(t *testing.T) {
	h := newHarness(t, Options{})
	h.mustCreate(map[string]any{"emailAddress": "a@x.test"})
	h.call("createLeads", objs(map[string]any{"emailAddress": "a@x.test"}, map[string]any{"emailAddress": "b@x.test"}))
	h.callV(VersionV1, "getLeads", listParams())
	log := h.sim.RequestLog()
	if len(log) != 3 {
		t.Fatalf("log %+v", log)
	}
	want := []LoggedRequest{
		{Version: VersionV12, AccountID: "1001", Method: "createLeads", RequestID: `"req-1"`, Objects: 1, HTTPStatus: 200},
		{Version: VersionV12, AccountID: "1001", Method: "createLeads", RequestID: `"req-1"`, Objects: 2, HTTPStatus: 200, Codes: []int{301}},
		{Version: VersionV1, AccountID: "1001", Method: "getLeads", RequestID: `"req-1"`, HTTPStatus: 200},
	}
	for i, w := range want {
		g := log[i]
		if g.Version != w.Version || g.AccountID != w.AccountID || g.Method != w.Method || g.RequestID != w.RequestID ||
			g.Objects != w.Objects || g.HTTPStatus != w.HTTPStatus || !slices.Equal(g.Codes, w.Codes) || !g.Time.Equal(t0) {
			t.Errorf("log[%d] = %+v, want %+v", i, g, w)
		}
		if strings.Contains(fmt.Sprintf("%+v", g), DefaultSecretKey) {
			t.Errorf("secret key in log[%d]", i)
		}
	}
}
