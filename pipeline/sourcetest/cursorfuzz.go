package sourcetest

import (
	"encoding/json"
	"strings"
	"testing"
)

// CheckCorruptCursors fails t for each stored cursor of corrupt (stored
// value → what its error must say) that decode reads, or refuses with an
// error that does not say it: a cursor the source did not write is an
// error naming what is corrupt, never a fresh start.
func CheckCorruptCursors[C any](t testing.TB, decode func(string) (C, error), corrupt map[string]string) {
	t.Helper()
	for stored, want := range corrupt {
		if c, err := decode(stored); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: cursor %+v, err %v; want an error saying %q", stored, c, err, want)
		}
	}
}

// FuzzCursorDecode fuzzes a source's cursor decoder from seeds: whatever
// is stored, decode does not panic, and either fails with an error that
// starts with errPrefix (it names the cursor) or reads a position that,
// stored again as the source stores it (json.Marshal), decodes to one same
// as it. What is accepted is what the source writes.
func FuzzCursorDecode[C any](f *testing.F, decode func(string) (C, error), errPrefix string, same func(got, want C) bool, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decode(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), errPrefix) {
				t.Fatalf("error does not name the cursor: %v", err)
			}
			return
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decode(string(b))
		if err != nil || !same(back, c) {
			t.Fatalf("%+v → %s → %+v (%v)", c, b, back, err)
		}
	})
}
