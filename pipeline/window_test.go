package pipeline

import (
	"context"
	"testing"
	"time"
)

func TestSlidingWindowHonoursContext(t *testing.T) {
	w := newSlidingWindow(1, time.Hour)
	if err := w.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.wait(ctx); err == nil {
		t.Fatal("wait past the window ignored a cancelled context")
	}
}
