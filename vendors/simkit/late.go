package simkit

import (
	"sync"
	"time"
)

// Late holds writes that a simulator received but applies only later: the
// requests of a late-apply fault, held without an answer until the client
// gave up and then applied behind its back, as a vendor that queues a
// request, or whose worker stalls, can do. A held write is applied once
// After later writes of the same record have been applied (see Applied),
// or once Delay has passed, whichever comes first; so the older value can
// land after a newer one that the client wrote meanwhile.
//
// Late is guarded by the simulator's own lock (NewLate): Hold, Applied,
// Len and Drop are called with it held, and the Delay timer takes it
// before applying. Apply functions therefore run with the lock held.
type Late[K comparable] struct {
	mu   sync.Locker
	held []*lateWrite[K]
}

type lateWrite[K comparable] struct {
	key   K
	left  int // later writes of key still to be applied first
	apply func()
	timer *time.Timer
}

// NewLate returns an empty Late guarded by mu, the simulator's lock.
func NewLate[K comparable](mu sync.Locker) *Late[K] { return &Late[K]{mu: mu} }

// Hold keeps a write of record key, to be applied by apply after after
// later writes of key (at least 1), or after delay (0: only by later
// writes). The caller holds the lock.
func (l *Late[K]) Hold(key K, after int, delay time.Duration, apply func()) {
	w := &lateWrite[K]{key: key, left: max(after, 1), apply: apply}
	l.held = append(l.held, w)
	if delay > 0 {
		w.timer = time.AfterFunc(delay, func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.land(w)
		})
	}
}

// Applied tells Late that a write of record key was applied: held writes
// of key whose turn has come are applied now, oldest first. The caller
// holds the lock.
func (l *Late[K]) Applied(key K) {
	var due []*lateWrite[K]
	for _, w := range l.held {
		if w.key == key {
			if w.left--; w.left <= 0 {
				due = append(due, w)
			}
		}
	}
	for _, w := range due {
		l.land(w)
	}
}

// land applies w unless it is no longer held. The caller holds the lock.
func (l *Late[K]) land(w *lateWrite[K]) {
	for i, h := range l.held {
		if h == w {
			l.held = append(l.held[:i:i], l.held[i+1:]...)
			if w.timer != nil {
				w.timer.Stop()
			}
			w.apply()
			return
		}
	}
}

// Len is how many writes are held. The caller holds the lock.
func (l *Late[K]) Len() int { return len(l.held) }

// Drop forgets every held write without applying it (the simulator is
// closing). The caller holds the lock.
func (l *Late[K]) Drop() {
	for _, w := range l.held {
		if w.timer != nil {
			w.timer.Stop()
		}
	}
	l.held = nil
}
