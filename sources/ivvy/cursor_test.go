package ivvy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/pipeline/sourcetest"
)

// TestCorruptStoredPositions: a stored cursor or offset that crmsync did
// not write is an error naming what is corrupt, never a fresh start or a
// watermark past every record.
func TestCorruptStoredPositions(t *testing.T) {
	sourcetest.CheckCorruptCursors(t, decodeCursor, map[string]string{
		`null`:                                "not a JSON object",
		`[]`:                                  "not a JSON object",
		``:                                    "not a JSON object",
		`{"leads":"garbage"}`:                 "leads watermark",
		`{"contacts":"2026-03-02T11:30:00Z"}`: "contacts watermark",
		`{"leads":"2026-03-02 11:30:00 UTC"}`: "leads watermark",
		`{"lead":"2026-03-02 11:30:00"}`:      "unknown field",
		`{"leads":"2026-03-02 11:30:00"} {}`:  "data after",
		`{"lead_ids":"1"}`:                    "lead_ids",
		`{"leads":`:                           "stored cursor",
	})
	for _, ok := range []string{`{}`, `{"leads":"2026-03-02 11:30:00","lead_ids":[5,6],"contacts":"2026-03-02 11:30:01","scan":true}`, `{"lead_ids":[0]}`} {
		if _, err := decodeCursor(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"-1", "+5", "007", " 5", "5 ", "1e3", "x", "9223372036854775807", "2147483648"} {
		if n, err := parseOffset(bad); err == nil || !strings.Contains(err.Error(), "is not a record offset") {
			t.Errorf("offset %q read as %d (%v)", bad, n, err)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	sourcetest.FuzzCursorDecode(f, decodeCursor, "ivvy poller: stored cursor", func(got, want cursor) bool {
		return got.Leads == want.Leads && got.Contacts == want.Contacts && got.Scan == want.Scan
	}, `{}`, `{"leads":"2026-03-02 11:30:00","lead_ids":[101,102],"contacts":"2026-03-02 11:30:01","contact_ids":[7]}`,
		`{"leads":"2026-03-02 11:30:00","scan":true}`, `{"leads":"0000-00-00 00:00:00"}`)
}

func FuzzParseOffset(f *testing.F) {
	for _, s := range []string{"0", "100", "2147483647", "-1", "007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseOffset(s)
		if err != nil {
			return
		}
		if n < 0 || n > maxOffset || strconv.Itoa(n) != s {
			t.Fatalf("%q read as %d", s, n)
		}
	})
}
