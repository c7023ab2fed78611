package simkit

import (
	"testing"
	"time"
)

func TestWindowRefusesBeyondTheLimitAndRefusalsDoNotUseIt(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	w := Window{Limit: 2, Per: time.Second}
	for _, step := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {100 * time.Millisecond, true}, {200 * time.Millisecond, false},
		{999 * time.Millisecond, false}, // refused twice, still two in the window
		{time.Second, true},             // the first left the window at exactly 1 s
		{1050 * time.Millisecond, false},
		{1100 * time.Millisecond, true},
	} {
		if got := w.Allow(t0.Add(step.at)); got != step.want {
			t.Errorf("at %v: allowed %v, want %v", step.at, got, step.want)
		}
	}
	unlimited := Window{}
	for range 100 {
		if !unlimited.Allow(t0) {
			t.Fatal("a zero Window refused")
		}
	}
}

func TestPeaksCountFixedSecondsAndSlidingWindowsPerKey(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	var p Peaks
	// Three requests across a second boundary: at most two in one UTC
	// second, three in one sliding second.
	p.Add("a", t0.Add(800*time.Millisecond))
	p.Add("a", t0.Add(900*time.Millisecond))
	p.Add("a", t0.Add(1100*time.Millisecond))
	p.Add("b", t0.Add(1200*time.Millisecond)) // another credential
	// (t-1s, t]: the request at 0.8 s has left the window at 1.8 s.
	p.Add("a", t0.Add(1800*time.Millisecond))
	if p.MaxInFixedSecond() != 2 || p.MaxInSlidingSecond() != 3 {
		t.Errorf("fixed %d sliding %d, want 2 3", p.MaxInFixedSecond(), p.MaxInSlidingSecond())
	}
}
