package pipeline

import (
	"context"
	"encoding/json"
	"errors"
)

// StoredCursor keeps one polling source's position, a value of type C, in
// Cursors as JSON under the source's name: what a source needs to resume
// where it left off after a restart.
type StoredCursor[C any] struct {
	Cursors Cursors
	Source  string
	// Decode reads a stored value. It must reject anything the source
	// would not have written rather than read it as "from the beginning".
	Decode func(raw string) (C, error)
}

// Load returns the stored position, or start when none is stored. A stored
// value Decode rejects is an *UnreadableCursorError: the source should stop
// and say so rather than start over, which would read the vendor's whole
// history again.
func (s StoredCursor[C]) Load(ctx context.Context, start C) (C, error) {
	var zero C
	raw, _, err := s.Cursors.Cursor(ctx, s.Source)
	if errors.Is(err, ErrNotFound) {
		return start, nil
	}
	if err != nil {
		return zero, err
	}
	c, err := s.Decode(raw)
	if err != nil {
		return zero, &UnreadableCursorError{Source: s.Source, Err: err}
	}
	return c, nil
}

// Save stores c as the source's position.
func (s StoredCursor[C]) Save(ctx context.Context, c C) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.Cursors.SetCursor(ctx, s.Source, string(b))
}

// UnreadableCursorError is a stored position its source cannot read.
type UnreadableCursorError struct {
	Source string
	Err    error
}

func (e *UnreadableCursorError) Error() string { return e.Source + ": " + e.Err.Error() }
func (e *UnreadableCursorError) Unwrap() error { return e.Err }
