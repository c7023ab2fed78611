package sharpspring

import (
	"testing"

	"github.com/crmsync/crmsync/internal/golden"
)

// TestLeadCursorFormat guards the persisted cursor: a change of format
// needs a new version and a migration of stored cursors, or (for an
// optional member that older readers may ignore) a golden file of its own
// while the older files keep decoding.
func TestLeadCursorFormat(t *testing.T) {
	base := leadCursor{
		Watermark: "2026-03-10 11:59:30",
		Recent:    map[string]recentLead{"88038560771": {TS: "2026-03-10 11:58:01", Hash: "0f1e"}, "88038560770": {TS: "2026-03-10 11:59:30", Hash: "a1b2"}},
		Known:     encodeIDs(map[int64]bool{88038560770: true, 88038560771: true, 88038561000: true}),
		SweptAt:   "2026-03-10T00:00:05Z",
	}
	withWindow := base
	withWindow.Window = &windowProgress{Start: "2026-03-10 11:57:30", End: "2026-03-10 12:05:00", Next: "2026-03-10 12:01:07"}
	for _, tc := range []struct {
		name string
		c    leadCursor
		path string
	}{
		// Written before windows were kept part-way; still read as is.
		{"watermark only", base, "testdata/lead_cursor.golden.json"},
		{"window part-way", withWindow, "testdata/lead_cursor_window.golden.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.c.encode()
			if err != nil {
				t.Fatal(err)
			}
			if !golden.Compare(t, tc.path, []byte(s+"\n")) {
				t.FailNow()
			}
			want := golden.Read(t, tc.path)
			back, err := decodeLeadCursor(want)
			if err != nil || back.Watermark != tc.c.Watermark || len(back.Recent) != 2 || back.Known != tc.c.Known {
				t.Fatalf("%+v %v", back, err)
			}
			if (back.Window == nil) != (tc.c.Window == nil) || back.Window != nil && *back.Window != *tc.c.Window {
				t.Fatalf("window %+v, want %+v", back.Window, tc.c.Window)
			}
		})
	}
	for _, bad := range []string{
		`{"v":2}`,
		`{"v":1,"window":{"start":"2026-03-10 11:57:30","end":"2026-03-10 12:05:00","next":"2026-03-10 12:05:02"}}`,
		`{"v":1,"window":{"start":"2026-03-10 11:57:30","end":"2026-03-10 12:05:00","next":"yesterday"}}`,
		`{"v":1,"window":{"start":"2026-03-10 12:07:30","end":"2026-03-10 12:05:00","next":"2026-03-10 12:07:30"}}`,
	} {
		if _, err := decodeLeadCursor(bad); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
