package simkit

import (
	"slices"
	"testing"
	"time"
)

func TestTimeIndexAnswersRangesLikeAScan(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	x := NewTimeIndex[int]()
	at := map[int]time.Time{}
	set := func(k int, tm time.Time) { x.Set(k, tm); at[k] = tm }
	for k := range 200 {
		// Out of order and several per second, sub-second parts included.
		set(k, base.Add(time.Duration((k*37)%50)*time.Second+time.Duration(k)*time.Millisecond))
	}
	set(3, base.Add(time.Hour)) // moved forward
	set(4, base.Add(-time.Hour))
	x.Remove(5)
	delete(at, 5)
	x.Remove(999) // unknown: nothing happens
	if x.Len() != len(at) {
		t.Fatalf("Len %d, want %d", x.Len(), len(at))
	}
	for _, c := range []struct {
		name     string
		from, to time.Time
	}{
		{"all", base.Add(-2 * time.Hour), time.Time{}},
		{"inner", base.Add(10*time.Second + 500*time.Millisecond), base.Add(20 * time.Second)},
		{"one second", base.Add(7 * time.Second), base.Add(7 * time.Second)},
		{"none", base.Add(2 * time.Hour), time.Time{}},
		{"open end", base.Add(45 * time.Second), time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := x.Since(c.from)
			if !c.to.IsZero() {
				got = x.Between(c.from, c.to)
			}
			slices.Sort(got)
			var want []int
			for k, tm := range at {
				s := tm.Truncate(time.Second)
				if !s.Before(c.from.Truncate(time.Second)) && (c.to.IsZero() || !s.After(c.to)) {
					want = append(want, k)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Between = %v, want %v", got, want)
			}
		})
	}
}
