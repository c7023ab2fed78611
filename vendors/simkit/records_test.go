package simkit

import (
	"slices"
	"sync"
	"testing"
)

func TestCopiesAreInKeyOrderAndShareNothing(t *testing.T) {
	type rec struct{ tags []string }
	clone := func(r *rec) rec { return rec{tags: slices.Clone(r.tags)} }
	var mu sync.Mutex
	m := map[int64]*rec{3: {[]string{"c"}}, 1: {[]string{"a"}}, 2: {[]string{"b"}}}
	got := Copies(&mu, m, clone)
	if len(got) != 3 || got[0].tags[0] != "a" || got[1].tags[0] != "b" || got[2].tags[0] != "c" {
		t.Fatalf("copies %v", got)
	}
	got[0].tags[0] = "changed"
	if m[1].tags[0] != "a" {
		t.Fatal("a copy shares its record's slice")
	}
	if c, ok := CopyOf(&mu, m, 2, clone); !ok || c.tags[0] != "b" {
		t.Fatalf("CopyOf(2) = %v, %v", c, ok)
	}
	if _, ok := CopyOf(&mu, m, 4, clone); ok {
		t.Fatal("CopyOf found a record that is not there")
	}
	if got := Copies(&mu, map[int64]*rec{}, clone); got == nil || len(got) != 0 {
		t.Fatalf("no records: %#v, want an empty slice", got)
	}
}

func TestFillCallsInOrderHoldingTheLock(t *testing.T) {
	var mu sync.Mutex
	got := Fill(&mu, 3, func(i int) int {
		if mu.TryLock() {
			t.Fatalf("fill(%d) ran without the lock held", i)
		}
		return i * 10
	})
	if !slices.Equal(got, []int{0, 10, 20}) {
		t.Fatalf("Fill = %v", got)
	}
	if !mu.TryLock() {
		t.Fatal("Fill kept the lock")
	}
}
