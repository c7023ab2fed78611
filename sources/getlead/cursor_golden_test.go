package getlead

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/golden"
)

// goldenCursors are poller positions of every shape the poller saves
// (save stores json.Marshal of the Cursor). testdata/cursors.golden holds
// them as stored; an upgraded poller must resume from each.
var goldenCursors = []struct {
	name string
	cur  Cursor
}{
	{"first poll over the whole history", Cursor{}},
	{"first poll from a configured start", Cursor{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
	{"after a poll: leads seen at the newest creation time",
		Cursor{From: time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC), Seen: []string{"01HX5Z3K7Q", "01HX5Z3K7R"}}},
	{"watermark as Getlead wrote it, with a UTC offset",
		Cursor{From: time.Date(2026, 3, 1, 15, 30, 0, 0, time.FixedZone("", 5*3600+1800)), Seen: []string{"42"}}},
}

func renderCursors(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# Getlead poller cursors as stored in the state database.\n")
	b.WriteString("# An upgraded crmsync must resume from each: see cursor_golden_test.go.\n")
	for _, g := range goldenCursors {
		raw, err := json.Marshal(g.cur)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("\n== " + g.name + "\n" + string(raw) + "\n")
	}
	return b.String()
}

// TestCursorFormatGolden: what the poller stores does not change by
// accident. A deliberate change needs a decoder that still reads the old
// form (see TestGoldenCursorsDecode).
func TestCursorFormatGolden(t *testing.T) {
	golden.Compare(t, "testdata/cursors.golden", []byte(renderCursors(t)))
}

// TestGoldenCursorsDecode: every stored cursor in the golden file reads
// back as the position it was written from (in UTC), so a poller resumes
// where an older crmsync stopped.
func TestGoldenCursorsDecode(t *testing.T) {
	stored := golden.Blocks(t, "testdata/cursors.golden")
	for _, g := range goldenCursors {
		raw, ok := stored[g.name]
		if !ok {
			t.Errorf("%s: not in the golden file", g.name)
			continue
		}
		got, err := decodeCursor(raw)
		if err != nil {
			t.Errorf("%s: %s: %v", g.name, raw, err)
			continue
		}
		if !got.From.Equal(g.cur.From) || got.From.Location() != time.UTC || !slices.Equal(got.Seen, g.cur.Seen) {
			t.Errorf("%s: %s decoded as %+v, want %+v in UTC", g.name, raw, got, g.cur)
		}
	}
}
