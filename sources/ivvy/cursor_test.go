package ivvy

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestCorruptStoredPositions: a stored cursor or offset that crmsync did
// not write is an error naming what is corrupt, never a fresh start or a
// watermark past every record.
func TestCorruptStoredPositions(t *testing.T) {
	for _, tc := range []struct{ stored, want string }{
		{`null`, "not a JSON object"},
		{`[]`, "not a JSON object"},
		{``, "not a JSON object"},
		{`{"leads":"garbage"}`, "leads watermark"},
		{`{"contacts":"2026-03-02T11:30:00Z"}`, "contacts watermark"},
		{`{"leads":"2026-03-02 11:30:00 UTC"}`, "leads watermark"},
		{`{"lead":"2026-03-02 11:30:00"}`, "unknown field"},
		{`{"leads":"2026-03-02 11:30:00"} {}`, "data after"},
		{`{"lead_ids":"1"}`, "lead_ids"},
		{`{"leads":`, "stored cursor"},
	} {
		if c, err := decodeCursor(tc.stored); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: cursor %+v, err %v; want an error saying %q", tc.stored, c, err, tc.want)
		}
	}
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
	f.Add(`{}`)
	f.Add(`{"leads":"2026-03-02 11:30:00","lead_ids":[101,102],"contacts":"2026-03-02 11:30:01","contact_ids":[7]}`)
	f.Add(`{"leads":"2026-03-02 11:30:00","scan":true}`)
	f.Add(`{"leads":"0000-00-00 00:00:00"}`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ivvy poller: stored cursor") {
				t.Fatalf("error does not name the cursor: %v", err)
			}
			return
		}
		// What is accepted is what the poller writes: it encodes and
		// decodes back the same.
		b, _ := json.Marshal(c)
		back, err := decodeCursor(string(b))
		if err != nil || back.Leads != c.Leads || back.Contacts != c.Contacts || back.Scan != c.Scan {
			t.Fatalf("%+v → %s → %+v (%v)", c, b, back, err)
		}
	})
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
