package ivvy

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/internal/golden"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
)

// goldenCursors are lead poller positions of every shape the poller saves
// (Poll stores json.Marshal of its cursor). testdata/cursors.golden holds
// them as stored; an upgraded poller must resume from each.
var goldenCursors = []sourcetest.GoldenCursor[cursor]{
	{Name: "first poll over the whole history", Cursor: cursor{}},
	{Name: "first poll from a configured since", Cursor: cursor{Leads: "2026-01-01 00:00:00", Contacts: "2026-01-01 00:00:00"}},
	{Name: "after a poll: leads and contacts seen at the newest second",
		Cursor: cursor{Leads: "2026-03-02 11:30:00", LeadIDs: []int64{5001, 5002}, Contacts: "2026-03-02 11:30:01", ContactIDs: []int64{33001}}},
	{Name: "getLeadList ignores the date filter: scan mode",
		Cursor: cursor{Leads: "2026-03-02 11:30:00", LeadIDs: []int64{5001}, Contacts: "2026-03-02 11:29:59", Scan: true}},
}

// goldenOffsets are backfill pager cursors: the record offset of the next
// page.
var goldenOffsets = []int{0, 100, 2147483647}

func renderCursors(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(sourcetest.RenderCursors(t, []string{
		"iVvy lead poller cursors and backfill offsets as stored in the state database.",
		"An upgraded crmsync must resume from each: see cursor_golden_test.go.",
	}, goldenCursors))
	for _, n := range goldenOffsets {
		b.WriteString("\n== backfill offset " + strconv.Itoa(n) + "\n" + strconv.Itoa(n) + "\n")
	}
	return b.String()
}

// TestCursorFormatGolden: what the poller and the backfill pager store
// does not change by accident. A deliberate change needs a decoder that
// still reads the old form (see TestGoldenCursorsDecode).
func TestCursorFormatGolden(t *testing.T) {
	golden.Compare(t, "testdata/cursors.golden", []byte(renderCursors(t)))
}

// TestGoldenCursorsDecode: every stored cursor in the golden file reads
// back as the position it was written from, so a poller resumes where an
// older crmsync stopped.
func TestGoldenCursorsDecode(t *testing.T) {
	stored := golden.Blocks(t, "testdata/cursors.golden")
	sourcetest.CheckCursorsDecode(t, stored, goldenCursors, decodeCursor,
		func(got, want cursor) bool { return reflect.DeepEqual(got, want) })
	for _, n := range goldenOffsets {
		name := "backfill offset " + strconv.Itoa(n)
		if got, err := parseOffset(stored[name]); err != nil || got != n {
			t.Errorf("%s: %q read as %d (%v)", name, stored[name], got, err)
		}
	}
}
