package pipeline

import (
	"context"
	"errors"
	"testing"
)

func TestRecordLocksHoldOnlyWhatIsAskedAndGiveUpOnStop(t *testing.T) {
	ctx := context.Background()
	l := NewRecordLocks()
	releaseAB, err := l.hold(ctx, nil, []string{"b", "a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	releaseC, err := l.hold(ctx, nil, []string{"c"})
	if err != nil {
		t.Fatalf("a record no one holds: %v", err)
	}
	releaseC()
	stopping := make(chan struct{})
	close(stopping)
	if _, err := l.hold(ctx, stopping, []string{"c", "b"}); !errors.Is(err, errStopped) {
		t.Fatalf("a held record while stopping: %v, want errStopped", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.hold(cancelled, nil, []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a held record when ctx ended: %v, want context.Canceled", err)
	}
	got := make(chan error)
	go func() {
		release, err := l.hold(ctx, nil, []string{"a", "c"})
		if err == nil {
			release()
		}
		got <- err
	}()
	releaseAB()
	if err := <-got; err != nil {
		t.Fatalf("after the release: %v", err)
	}
	if len(l.held) != 0 {
		t.Fatalf("still held: %v", l.held)
	}
}
