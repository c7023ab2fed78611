package sharpspring

import (
	"testing"

	"github.com/crmsync/crmsync/internal/golden"
)

// TestLeadCursorFormat guards the persisted cursor: a change of format
// needs a new version and a migration of stored cursors.
func TestLeadCursorFormat(t *testing.T) {
	c := leadCursor{
		Watermark: "2026-03-10 11:59:30",
		Recent:    map[string]recentLead{"88038560771": {TS: "2026-03-10 11:58:01", Hash: "0f1e"}, "88038560770": {TS: "2026-03-10 11:59:30", Hash: "a1b2"}},
		Known:     encodeIDs(map[int64]bool{88038560770: true, 88038560771: true, 88038561000: true}),
		SweptAt:   "2026-03-10T00:00:05Z",
	}
	s, err := c.encode()
	if err != nil {
		t.Fatal(err)
	}
	const path = "testdata/lead_cursor.golden.json"
	if !golden.Compare(t, path, []byte(s+"\n")) {
		t.FailNow()
	}
	want := golden.Read(t, path)
	back, err := decodeLeadCursor(want)
	if err != nil || back.Watermark != c.Watermark || len(back.Recent) != 2 {
		t.Fatalf("%+v %v", back, err)
	}
	if _, err := decodeLeadCursor(`{"v":2}`); err == nil {
		t.Fatal("an unknown version was accepted")
	}
}
