package getlead

import (
	"slices"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/golden"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
)

// goldenCursors are poller positions of every shape the poller saves
// (save stores json.Marshal of the Cursor). testdata/cursors.golden holds
// them as stored; an upgraded poller must resume from each.
var goldenCursors = []sourcetest.GoldenCursor[Cursor]{
	{Name: "first poll over the whole history", Cursor: Cursor{}},
	{Name: "first poll from a configured start", Cursor: Cursor{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
	{Name: "after a poll: leads seen at the newest creation time",
		Cursor: Cursor{From: time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC), Seen: []string{"01HX5Z3K7Q", "01HX5Z3K7R"}}},
	{Name: "watermark as Getlead wrote it, with a UTC offset",
		Cursor: Cursor{From: time.Date(2026, 3, 1, 15, 30, 0, 0, time.FixedZone("", 5*3600+1800)), Seen: []string{"42"}}},
}

func renderCursors(t *testing.T) string {
	t.Helper()
	return sourcetest.RenderCursors(t, []string{
		"Getlead poller cursors as stored in the state database.",
		"An upgraded crmsync must resume from each: see cursor_golden_test.go.",
	}, goldenCursors)
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
	sourcetest.CheckCursorsDecode(t, golden.Blocks(t, "testdata/cursors.golden"), goldenCursors, decodeCursor,
		func(got, want Cursor) bool {
			return got.From.Equal(want.From) && got.From.Location() == time.UTC && slices.Equal(got.Seen, want.Seen)
		})
}
