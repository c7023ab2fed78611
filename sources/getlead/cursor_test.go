package getlead

import (
	"testing"

	"github.com/crmsync/crmsync/pipeline/sourcetest"
)

// TestCorruptCursor: a stored cursor the poller did not write is an error
// naming what is corrupt, never a restart from the beginning.
func TestCorruptCursor(t *testing.T) {
	sourcetest.CheckCorruptCursors(t, decodeCursor, map[string]string{
		`{}`:                   `no "from"`,
		`null`:                 `no "from"`,
		`{"seen":["a"]}`:       `no "from"`,
		`{"from":"yesterday"}`: "not readable",
		`{"from":"2026-03-01T10:00:00Z","seen":[""]}`: "seen[0]",
		`{"from":"2026-03-01T10:00:00Z","next":"x"}`:  "unknown field",
		`{"from":"2026-03-01T10:00:00Z"}x`:            "data after",
		``:                                            "not readable",
		`[1]`:                                         "not readable",
	})
	// A first poll from the whole history stores the zero time: valid.
	if _, err := decodeCursor(`{"from":"0001-01-01T00:00:00Z"}`); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeCursor(f *testing.F) {
	sourcetest.FuzzCursorDecode(f, decodeCursor, "stored cursor", func(got, want Cursor) bool {
		return got.From.Equal(want.From) && len(got.Seen) == len(want.Seen)
	}, `{"from":"2026-03-01T10:00:00.123456Z","seen":["01HX","01HY"]}`, `{"from":"0001-01-01T00:00:00Z"}`,
		`{"from":"2026-03-01T10:00:00+05:30"}`)
}
