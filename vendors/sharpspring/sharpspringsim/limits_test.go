package sharpspringsim

import (
	"fmt"
	"testing"
	"time"
)

func listParams() map[string]any { return map[string]any{"where": map[string]any{}} }

func TestPerSecondLimit(t *testing.T) {
	h := newHarness(t, Options{RateLimitPerSecond: 10})
	for i := range 10 {
		if r := h.call("getLeads", listParams()); r.errCode() != 0 {
			t.Fatalf("request %d: %s", i+1, r.Body)
		}
	}
	r := h.call("createLeads", objs(map[string]any{"emailAddress": "limited@x.test"}))
	if r.Status != 200 || r.errCode() != CodeSecondLimit || string(r.member("result")) != "null" {
		t.Fatalf("11th request: HTTP %d %s", r.Status, r.Body)
	}
	if _, ok := h.sim.LeadByEmail("limited@x.test"); ok {
		t.Error("a 107 request was applied")
	}
	// Still the same UTC second 0.7 s later.
	h.clock.Add(700 * time.Millisecond)
	if r := h.call("getLeads", listParams()); r.errCode() != CodeSecondLimit {
		t.Fatalf("same second: %s", r.Body)
	}
	// The next second boundary resets the fixed window.
	h.clock.Set(t0.Truncate(time.Second).Add(time.Second))
	for i := range 10 {
		if r := h.call("getLeads", listParams()); r.errCode() != 0 {
			t.Fatalf("next second, request %d: %s", i+1, r.Body)
		}
	}
	st := h.sim.Stats()
	if st.Requests != 22 || st.Rejected107 != 2 || st.ErrorsByCode[107] != 2 || st.MaxInFixedSecond != 12 {
		t.Errorf("stats %+v", st)
	}
}

func TestDailyLimit(t *testing.T) {
	h := newHarness(t, Options{DailyLimit: 3})
	for i := range 3 {
		if r := h.call("getLeads", listParams()); r.errCode() != 0 {
			t.Fatalf("request %d: %s", i+1, r.Body)
		}
	}
	h.clock.Add(time.Hour)
	if r := h.call("getLeads", listParams()); r.errCode() != CodeDailyLimit {
		t.Fatalf("4th request: %s", r.Body)
	}
	h.clock.Set(time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)) // next UTC day
	if r := h.call("getLeads", listParams()); r.errCode() != 0 {
		t.Fatalf("next day: %s", r.Body)
	}
	if st := h.sim.Stats(); st.Rejected106 != 1 || st.Requests != 5 {
		t.Errorf("stats %+v", st)
	}
}

func TestLimitsOff(t *testing.T) {
	h := newHarness(t, Options{RateLimitPerSecond: -1, DailyLimit: -1})
	for i := range 60 {
		if r := h.call("getLeads", listParams()); r.errCode() != 0 {
			t.Fatalf("request %d: %s", i+1, r.Body)
		}
	}
}

func TestMaxObjects(t *testing.T) {
	many := func(n int) map[string]any {
		list := make([]map[string]any, n)
		for i := range list {
			list[i] = map[string]any{"emailAddress": fmt.Sprintf("m%d@x.test", i)}
		}
		return objs(list...)
	}
	tests := []struct {
		name     string
		opts     Options
		n        int
		wantCode int
	}{
		{"500 allowed", Options{}, 500, 0},
		{"501 rejected", Options{}, 501, CodeTooManyObjects},
		{"custom max", Options{MaxObjects: 2}, 3, CodeTooManyObjects},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			r := h.call("createLeads", many(tc.n))
			if r.errCode() != tc.wantCode {
				t.Fatalf("code %d, want %d", r.errCode(), tc.wantCode)
			}
			want := tc.n
			if tc.wantCode != 0 {
				want = 0
			}
			if got := len(h.sim.Leads()); got != want {
				t.Errorf("stored %d leads, want %d", got, want)
			}
			if log := h.sim.RequestLog(); log[len(log)-1].Objects != tc.n {
				t.Errorf("logged objects %d", log[len(log)-1].Objects)
			}
		})
	}
}

func TestSlidingWindowStat(t *testing.T) {
	h := newHarness(t, Options{RateLimitPerSecond: 10})
	base := t0.Truncate(time.Second)
	// 5 requests late in one second and 5 early in the next: no fixed
	// second sees more than 5, but a sliding second sees 10.
	for i := range 5 {
		h.clock.Set(base.Add(600*time.Millisecond + time.Duration(i)*10*time.Millisecond))
		h.call("getLeads", listParams())
	}
	for i := range 5 {
		h.clock.Set(base.Add(1100*time.Millisecond + time.Duration(i)*10*time.Millisecond))
		h.call("getLeads", listParams())
	}
	// Exactly one second after the last one: the window (t-1s, t] holds 1.
	h.clock.Set(base.Add(2140 * time.Millisecond))
	h.call("getLeads", listParams())
	st := h.sim.Stats()
	if st.MaxInFixedSecond != 5 || st.MaxInSlidingSecond != 10 || st.Rejected107 != 0 {
		t.Errorf("fixed %d sliding %d rejected %d, want 5, 10, 0", st.MaxInFixedSecond, st.MaxInSlidingSecond, st.Rejected107)
	}
	h.sim.ResetStats()
	if st := h.sim.Stats(); st.Requests != 0 || st.MaxInSlidingSecond != 0 || len(h.sim.RequestLog()) != 0 {
		t.Errorf("after reset %+v", st)
	}
}

func TestStatsCountEverything(t *testing.T) {
	h := newHarness(t, Options{})
	h.call("createLeads", objs(map[string]any{"emailAddress": "s@x.test"}, map[string]any{"emailAddress": "s@x.test"}))
	h.call("getLeads", listParams())
	h.call("noSuchMethod", listParams())
	st := h.sim.Stats()
	if st.Requests != 3 || st.ByMethod["createLeads"] != 1 || st.ByMethod["getLeads"] != 1 || st.ByMethod["noSuchMethod"] != 1 {
		t.Errorf("requests %+v", st)
	}
	if st.ObjectsWritten != 1 || st.ErrorsByCode[301] != 1 || st.ErrorsByCode[204] != 1 {
		t.Errorf("stats %+v", st)
	}
}
