package pipeline

import (
	"context"
	"slices"
	"sync"
)

// RecordLocks keeps the routes that share them from writing one target
// record at the same time.
//
// Two routes from different sources can write the same record of one
// target (SharpSpring and LeadExec both into Getlead). Each decides what
// to send from the target's write ledger and records what it wrote when
// its batch settles; but a batch that settles first need not have landed
// first, so two overlapping writes of one field could leave the target
// holding the older value while the ledger shows the newer, and nothing
// would ever send it again. A route therefore holds the records of a
// batch, by target and canonical id, from before it reads the ledger until
// the batch is settled; a route wanting one of them waits.
//
// The locks are held within one process: routes of one target run by
// different instances of a cluster are not kept apart by them.
type RecordLocks struct {
	mu   sync.Mutex
	held map[string]bool
	free chan struct{} // closed, and replaced, whenever records are released
}

// NewRecordLocks returns locks no route holds.
func NewRecordLocks() *RecordLocks {
	return &RecordLocks{held: map[string]bool{}, free: make(chan struct{})}
}

// processLocks are the locks of every route given none of its own.
var processLocks = NewRecordLocks()

// hold waits until no route holds any of the records keys, then holds them
// all at once (so two routes never wait for each other), and returns the
// function that releases them. It returns errStopped when stopping closes
// first, and ctx's error when ctx ends.
func (l *RecordLocks) hold(ctx context.Context, stopping <-chan struct{}, keys []string) (release func(), err error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	for {
		l.mu.Lock()
		busy := slices.ContainsFunc(keys, func(k string) bool { return l.held[k] })
		if !busy {
			for _, k := range keys {
				l.held[k] = true
			}
			l.mu.Unlock()
			return func() { l.release(keys) }, nil
		}
		freed := l.free
		l.mu.Unlock()
		select {
		case <-freed:
		case <-stopping:
			return nil, errStopped
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (l *RecordLocks) release(keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.held, k)
	}
	close(l.free)
	l.free = make(chan struct{})
}
