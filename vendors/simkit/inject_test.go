package simkit

import (
	"context"
	"testing"
	"time"
)

type fault int

const (
	none fault = iota
	f500
	f503
	fDrop
	fJSON
	fHTML
)

func (f fault) String() string {
	return FaultName([]string{"none", "http500", "http503", "drop", "json", "html"}, f)
}

func TestFaultNameNamesAValueOutOfRangeAsUnknown(t *testing.T) {
	for f, want := range map[fault]string{none: "none", fHTML: "html", fHTML + 1: "fault(?)", -1: "fault(?)"} {
		if got := f.String(); got != want {
			t.Errorf("fault %d is %q, want %q", f, got, want)
		}
	}
}

func draws(in *Injector[fault], key string, n int) []fault {
	out := make([]fault, n)
	for i := range out {
		out[i] = in.Next(key).Fault
	}
	return out
}

// untilDrawn draws until f comes up.
func untilDrawn(t *testing.T, in *Injector[fault], f fault) {
	t.Helper()
	for range 1000 {
		if in.Next("k").Fault == f {
			return
		}
	}
	t.Fatalf("%v not drawn in 1000 requests", f)
}

func TestInjectorTakesScriptedFaultsFirstInOrderPerKey(t *testing.T) {
	in := NewInjector[fault](1)
	in.Set(Policy[fault]{Rates: []Rate[fault]{{P: 1, Fault: fDrop}}})
	in.Script("a", f500, none, f503)
	got := []Decision[fault]{in.Next("a"), in.Next("b"), in.Next("a"), in.Next("a"), in.Next("a")}
	want := []struct {
		f        fault
		scripted bool
	}{{f500, true}, {fDrop, false}, {fDrop, false}, {f503, true}, {fDrop, false}}
	for i, w := range want {
		if got[i].Fault != w.f || got[i].Scripted != w.scripted {
			t.Errorf("request %d: got %v scripted=%v, want %v scripted=%v", i, got[i].Fault, got[i].Scripted, w.f, w.scripted)
		}
	}
}

func TestInjectorDrawsTheSameFaultsForTheSameSeed(t *testing.T) {
	p := Policy[fault]{Seed: 42, Rates: []Rate[fault]{
		{P: 0.3, Fault: f500, Or: f503}, {P: 0.2, Fault: fDrop}, {P: 0.2, Fault: fJSON, Or: fHTML}}}
	a, b := NewInjector[fault](7), NewInjector[fault](7)
	a.Set(p)
	b.Set(p)
	x, y := draws(a, "k", 200), draws(b, "k", 200)
	seen := map[fault]int{}
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("draw %d: %v vs %v", i, x[i], y[i])
		}
		seen[x[i]]++
	}
	for _, f := range []fault{none, f500, f503, fDrop, fJSON, fHTML} {
		if seen[f] == 0 {
			t.Errorf("200 draws never gave %v: %v", f, seen)
		}
	}
	c := NewInjector[fault](8) // another salt: another sequence
	c.Set(p)
	if z := draws(c, "k", 200); string(fmtFaults(z)) == string(fmtFaults(x)) {
		t.Error("a different salt drew the same sequence")
	}
}

func fmtFaults(fs []fault) []byte {
	b := make([]byte, len(fs))
	for i, f := range fs {
		b[i] = byte('0' + f)
	}
	return b
}

func TestInjectorBurstRepeatsTheDrawnFaultAndScriptsDoNotUseItUp(t *testing.T) {
	in := NewInjector[fault](1)
	in.Set(Policy[fault]{Burst: 3, Seed: 3, Rates: []Rate[fault]{{P: 0.2, Fault: f500, Bursts: true}}})
	untilDrawn(t, in, f500)
	in.Script("k", fDrop)
	if got := draws(in, "k", 3); got[0] != fDrop || got[1] != f500 || got[2] != f500 {
		t.Errorf("after a drawn 500 and a scripted drop: %v, want [drop 500 500]", got)
	}
	in.Set(Policy[fault]{Burst: 3, Seed: 3, Rates: []Rate[fault]{{P: 0.2, Fault: f500, Bursts: true}}})
	untilDrawn(t, in, f500)
	in.Set(Policy[fault]{})
	if f := in.Next("k").Fault; f != none {
		t.Errorf("Set did not end the burst: %v", f)
	}
}

func TestInjectorScopeLimitsRandomFaultsAndLatencyNotScripts(t *testing.T) {
	in := NewInjector[fault](1)
	in.Set(Policy[fault]{Scope: "a", Latency: time.Second, Rates: []Rate[fault]{{P: 1, Fault: fDrop}}})
	in.Script("b", f500)
	if d := in.Next("b"); d.Fault != f500 || d.Latency != 0 {
		t.Errorf("scripted out of scope: %+v", d)
	}
	if d := in.Next("b"); d.Fault != none || d.Latency != 0 {
		t.Errorf("out of scope: %+v", d)
	}
	if d := in.Next("a"); d.Fault != fDrop || d.Latency != time.Second {
		t.Errorf("in scope: %+v", d)
	}
}

func TestInjectorCapsHoldAndRoundsRetryAfterUp(t *testing.T) {
	for _, tc := range []struct {
		name       string
		p          Policy[fault]
		hold       time.Duration
		retryAfter int
	}{
		{"defaults", Policy[fault]{}, DefaultTimeoutCap, 0},
		{"short cap", Policy[fault]{TimeoutCap: time.Second, RetryAfter: 1500 * time.Millisecond}, time.Second, 2},
		{"cap above the default", Policy[fault]{TimeoutCap: time.Hour, RetryAfter: time.Millisecond}, DefaultTimeoutCap, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := NewInjector[fault](1)
			in.Set(tc.p)
			if d := in.Next("k"); d.Hold != tc.hold || d.RetryAfter != tc.retryAfter {
				t.Errorf("hold %v retryAfter %d, want %v %d", d.Hold, d.RetryAfter, tc.hold, tc.retryAfter)
			}
		})
	}
}

func TestDelayCountsLatencyThenTheFaultAndCloseReleasesHeldRequests(t *testing.T) {
	in := NewInjector[fault](1)
	if !in.Delay(context.Background(), Decision[fault]{Fault: f500, Latency: time.Nanosecond}) {
		t.Fatal("a passed latency reported the request gone")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if in.Delay(ctx, Decision[fault]{Fault: fDrop, Latency: time.Hour}) {
		t.Fatal("a gone client was not reported")
	}
	if got := in.Counts(); got[LatencyKey] != 2 || got["http500"] != 1 || got["drop"] != 0 {
		t.Errorf("counts %v", got)
	}
	done := make(chan bool)
	go func() { done <- in.Wait(context.Background(), 0) }()
	in.Close()
	if <-done {
		t.Error("Wait released by Close reported the full duration")
	}
	if in.Wait(context.Background(), time.Hour) {
		t.Error("Wait after Close held")
	}
	in.ResetCounts()
	if len(in.Counts()) != 0 {
		t.Error("ResetCounts kept counts")
	}
}

func TestQueuePopsOldestFirst(t *testing.T) {
	q := Queue[string, int]{}
	q.Push("a", 1, 2)
	q.Push("a")
	q.Push("a", 3)
	for _, want := range []int{1, 2, 3} {
		if got, ok := q.Pop("a"); !ok || got != want {
			t.Fatalf("got %d %v, want %d", got, ok, want)
		}
	}
	if _, ok := q.Pop("a"); ok || len(q) != 0 {
		t.Errorf("empty queue popped or kept its key: %v", q)
	}
}
