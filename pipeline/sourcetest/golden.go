package sourcetest

import (
	"encoding/json"
	"strings"
	"testing"
)

// GoldenCursor is a source's stored position of one shape, under the name
// of its block in the source's golden file.
type GoldenCursor[C any] struct {
	Name   string
	Cursor C
}

// RenderCursors writes the header lines and then one golden block per
// cursor: its name and the cursor as the source stores it (json.Marshal).
func RenderCursors[C any](t testing.TB, header []string, cursors []GoldenCursor[C]) string {
	t.Helper()
	var b strings.Builder
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	for _, g := range cursors {
		raw, err := json.Marshal(g.Cursor)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("\n== " + g.Name + "\n" + string(raw) + "\n")
	}
	return b.String()
}

// CheckCursorsDecode checks that every cursor's block in stored (the
// golden file's blocks by name) decodes, with the source's decode, to a
// position same as the one it was written from. It reports each cursor
// missing from stored, failing to decode or decoding to another position.
func CheckCursorsDecode[C any](t testing.TB, stored map[string]string, cursors []GoldenCursor[C],
	decode func(string) (C, error), same func(got, want C) bool) {
	t.Helper()
	for _, g := range cursors {
		raw, ok := stored[g.Name]
		if !ok {
			t.Errorf("%s: not in the golden file", g.Name)
			continue
		}
		got, err := decode(raw)
		if err != nil {
			t.Errorf("%s: %s: %v", g.Name, raw, err)
			continue
		}
		if !same(got, g.Cursor) {
			t.Errorf("%s: %s decoded as %+v, want %+v", g.Name, raw, got, g.Cursor)
		}
	}
}
