package simkit

import (
	"sync"
	"testing"
	"time"
)

func TestLateAppliesAfterLaterWritesOfTheSameRecordOldestFirst(t *testing.T) {
	var mu sync.Mutex
	var got []string
	l := NewLate[string](&mu)
	mu.Lock()
	l.Hold("a", 2, 0, func() { got = append(got, "a1") })
	l.Hold("a", 1, 0, func() { got = append(got, "a2") })
	l.Hold("b", 1, 0, func() { got = append(got, "b1") })
	l.Applied("a")
	if len(got) != 1 || got[0] != "a2" {
		t.Fatalf("after one write of a: %v, want [a2]", got)
	}
	l.Applied("c")
	l.Applied("a")
	if len(got) != 2 || got[1] != "a1" || l.Len() != 1 {
		t.Fatalf("after two writes of a: %v (held %d), want [a2 a1] and b held", got, l.Len())
	}
	l.Drop()
	l.Applied("b")
	mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("a dropped write was applied: %v", got)
	}
}

func TestLateAppliesAfterTheDelayUnderTheLock(t *testing.T) {
	var mu sync.Mutex
	l := NewLate[string](&mu)
	done := make(chan bool, 1)
	mu.Lock()
	l.Hold("a", 5, time.Millisecond, func() {
		locked := !mu.TryLock() // the timer holds the lock while applying
		done <- locked
	})
	mu.Unlock()
	select {
	case locked := <-done:
		if !locked {
			t.Fatal("applied without the lock")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not applied after the delay")
	}
	mu.Lock()
	defer mu.Unlock()
	if l.Len() != 0 {
		t.Fatal("still held after it was applied")
	}
}
