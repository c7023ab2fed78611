// Package registry keeps values by name for the packages that other
// packages add to from their init functions: the vendors of the
// configuration and the connectors.
package registry

import (
	"slices"
	"strings"
	"sync"
)

// Of holds values of type T by name. The zero value is empty and ready to
// use; it is safe for concurrent use.
type Of[T any] struct {
	mu     sync.RWMutex
	byName map[string]T
}

// Add adds v under name. It adds nothing and returns false when the name
// is taken.
func (r *Of[T]) Add(name string, v T) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, taken := r.byName[name]; taken {
		return false
	}
	if r.byName == nil {
		r.byName = map[string]T{}
	}
	r.byName[name] = v
	return true
}

// Get returns the value of name.
func (r *Of[T]) Get(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.byName[name]
	return v, ok
}

// All lists the values by name.
func (r *Of[T]) All() []T {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.byName))
	for name := range r.byName {
		names = append(names, name)
	}
	slices.SortFunc(names, strings.Compare)
	out := make([]T, len(names))
	for i, name := range names {
		out[i] = r.byName[name]
	}
	return out
}
