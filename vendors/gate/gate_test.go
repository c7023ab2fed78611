package gate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/crmsync/crmsync/vendors/gate"
)

type waiter struct{ err error }

func (w waiter) Wait(context.Context) error { return w.err }

type answerer struct {
	waiter
	answered *int
}

func (a answerer) Answered() { *a.answered++ }

func TestEnter(t *testing.T) {
	ctx := context.Background()
	for name, g := range map[string]gate.Gate{"no gate": nil, "a gate that only waits": waiter{}} {
		done, err := gate.Enter(ctx, g)
		if err != nil || done == nil {
			t.Fatalf("%s: done %v, err %v", name, done != nil, err)
		}
		done()
	}
	n := 0
	done, err := gate.Enter(ctx, answerer{answered: &n})
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("answered before the request was")
	}
	done()
	if n != 1 {
		t.Fatalf("answered %d times, want 1", n)
	}
	boom := errors.New("quota spent")
	if done, err := gate.Enter(ctx, answerer{waiter{boom}, &n}); !errors.Is(err, boom) || done != nil || n != 1 {
		t.Fatalf("refused: done %v, err %v, answered %d", done != nil, err, n)
	}
}
