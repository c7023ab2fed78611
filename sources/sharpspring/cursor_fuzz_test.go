package sharpspring

import (
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/pipeline/sourcetest"
)

// TestCorruptLeadCursor: a stored cursor that is not what the poller
// wrote is an error naming the corrupt part, never a fresh start.
func TestCorruptLeadCursor(t *testing.T) {
	sourcetest.CheckCorruptCursors(t, decodeLeadCursor, map[string]string{
		`{}`:                              "no version",
		`null`:                            "no version",
		`{"v":2}`:                         "version 2",
		`[1]`:                             "lead cursor",
		`{"v":1,"watermark":"yesterday"}`: "watermark",
		`{"v":1,"swept_at":"2026-03-10"}`: "swept_at",
		`{"v":1,"recent":{"abc":{"ts":"2026-03-10 11:59:30"}}}`: "recent lead id",
		`{"v":1,"recent":{"5":{"ts":"now"}}}`:                   "recent lead 5",
		`{"v":1,"known":"!!"}`:                                  "known ids",
		`{"v":1,"known":"gqiH/McC/"}`:                           "known ids",
		`{"v":1,"known":"AA"}`:                                  "out of order", // a zero delta
		`{"v":1,"known":"gA"}`:                                  "cut off",      // a varint without its end
		`{"v":1,"known":"////////////AQ"}`:                      "",             // an id past int64
	})
}

// FuzzDecodeLeadCursor: whatever is stored, decoding does not panic and
// either fails or gives a cursor that encodes back to an equal one.
func FuzzDecodeLeadCursor(f *testing.F) {
	if b, err := os.ReadFile("testdata/lead_cursor.golden.json"); err == nil {
		f.Add(strings.TrimSpace(string(b)))
	}
	f.Add(``)
	f.Add(`{"v":1}`)
	f.Add(`{"v":1,"known":"AQEB"}`)
	f.Add(`{"v":1,"recent":{"1":{"ts":"2026-03-10 11:59:30","h":""}},"watermark":"2026-03-10 11:59:30"}`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeLeadCursor(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "lead cursor: ") {
				t.Fatalf("error does not say what is corrupt: %v", err)
			}
			return
		}
		known, err := decodeIDs(c.Known)
		if err != nil {
			t.Fatalf("accepted cursor with unreadable known ids: %v", err)
		}
		for id := range known {
			if id <= 0 {
				t.Fatalf("known id %d", id)
			}
		}
		enc, err := c.encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeLeadCursor(enc)
		if err != nil {
			t.Fatalf("re-encoded cursor refused: %v", err)
		}
		if back.Watermark != c.Watermark || back.SweptAt != c.SweptAt || !maps.Equal(back.Recent, c.Recent) {
			t.Fatalf("round trip changed the cursor: %+v → %+v", c, back)
		}
	})
}

// FuzzDecodeIDs: known ids decode to positive ids that encode back to
// the same set.
func FuzzDecodeIDs(f *testing.F) {
	f.Add(encodeIDs(map[int64]bool{88038560770: true, 88038560771: true, 88038561000: true}))
	f.Add("")
	f.Add("AA")
	f.Fuzz(func(t *testing.T, s string) {
		set, err := decodeIDs(s)
		if err != nil {
			return
		}
		back, err := decodeIDs(encodeIDs(set))
		if err != nil || !maps.Equal(back, set) {
			t.Fatalf("%v → %v (%v)", set, back, err)
		}
	})
}
