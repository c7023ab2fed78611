package testenv

import (
	"context"
	"sync"
	"testing"
)

// Go runs run (an instance's Run, say) in a goroutine with a context of its
// own. stop cancels that context, waits for run to return and fails the
// test with run's error, prefixed with what; it runs when the test ends at
// the latest, and a second call does nothing.
func Go(t testing.TB, what string, run func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("%s: %v", what, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// SkipUnderRace skips t when the race detector is on. It is for the long
// proofs of one goroutine's logic (a poller paging through thousands of
// records, case after case): the detector slows them tenfold and finds
// nothing the shorter tests of the same code do not. CI runs them without
// it in the full `go test ./...`.
func SkipUnderRace(t testing.TB) {
	t.Helper()
	if Race {
		t.Skip("a long single-goroutine proof: run without the race detector")
	}
}
