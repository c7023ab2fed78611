package simkit

import (
	"cmp"
	"maps"
	"slices"
	"sync"
)

// Copies returns a copy, made by clone, of every record of m, in key
// order: what a simulator hands its tests, which must not share the
// records it keeps changing. It holds mu, the lock that guards m, while
// it copies.
func Copies[K cmp.Ordered, V, C any](mu sync.Locker, m map[K]*V, clone func(*V) C) []C {
	mu.Lock()
	defer mu.Unlock()
	out := make([]C, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, clone(m[k]))
	}
	return out
}

// Fill returns fill(0), …, fill(n-1), called in that order while it holds
// mu, the simulator's lock: how a simulator stores a large history in one
// go.
func Fill[T any](mu sync.Locker, n int, fill func(i int) T) []T {
	mu.Lock()
	defer mu.Unlock()
	out := make([]T, n)
	for i := range n {
		out[i] = fill(i)
	}
	return out
}

// CopyOf returns a copy, made by clone, of the record m holds under k; ok
// is false when there is none. It holds mu, the lock that guards m, while
// it copies.
func CopyOf[K comparable, V, C any](mu sync.Locker, m map[K]*V, k K, clone func(*V) C) (c C, ok bool) {
	mu.Lock()
	defer mu.Unlock()
	p, ok := m[k]
	if !ok {
		return c, false
	}
	return clone(p), true
}
