package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
)

// TestStoredCursor: a source with no stored position starts where it was
// told, reads back what it saved, and stops on a stored value it cannot
// read instead of starting over.
func TestStoredCursor(t *testing.T) {
	ctx := context.Background()
	type position struct {
		From time.Time `json:"from"`
	}
	state := testenv.State(t)
	refused := errors.New("not a position")
	c := pipeline.StoredCursor[position]{Cursors: state, Source: "acme.lead", Decode: func(raw string) (position, error) {
		if raw != `{"from":"2026-01-02T03:04:05Z"}` {
			return position{}, refused
		}
		return position{From: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, nil
	}}
	start := position{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}

	got, err := c.Load(ctx, start)
	if err != nil || got != start {
		t.Fatalf("nothing stored: got %v, %v; want the start %v", got, err, start)
	}
	saved := position{From: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := c.Save(ctx, saved); err != nil {
		t.Fatal(err)
	}
	if got, err = c.Load(ctx, start); err != nil || got != saved {
		t.Fatalf("after Save: got %v, %v; want %v", got, err, saved)
	}

	if err := state.SetCursor(ctx, "acme.lead", `{"since":"2026-01-02"}`); err != nil {
		t.Fatal(err)
	}
	_, err = c.Load(ctx, start)
	ue, ok := errors.AsType[*pipeline.UnreadableCursorError](err)
	if !ok || ue.Source != "acme.lead" || !errors.Is(err, refused) {
		t.Fatalf("unreadable value: got %v; want an *UnreadableCursorError of acme.lead wrapping the decoder's error", err)
	}
	if want := "acme.lead: not a position"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
