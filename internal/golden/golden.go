// Package golden compares what a test renders with a golden file kept in
// its testdata folder, so that persisted formats and mappings do not change
// by accident. Run a package's tests with -update to rewrite its golden
// files, only for a deliberate change of format.
package golden

import (
	"flag"
	"os"
	"strings"
	"testing"
)

// Update is the -update flag of every test binary that imports golden:
// Compare then writes what it got before comparing.
var Update = flag.Bool("update", false, "rewrite golden files")

// Compare fails t, naming each line that differs, unless got is the
// content of the file at path; under -update it first writes got there. A
// missing file stops the test. Compare reports whether they were equal.
func Compare(t testing.TB, path string, got []byte) bool {
	t.Helper()
	if *Update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := Read(t, path)
	if string(got) == want {
		return true
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(want, "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("%s:%d changed:\n got: %s\nwant: %s", path, i+1, g, w)
		}
	}
	return false
}

// Read returns the content of the golden file at path; a missing file stops
// the test.
func Read(t testing.TB, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	return string(raw)
}

// Blocks returns the values of a golden file written as blocks, each a line
// "== name" followed by its value, by name. Lines before the first block
// (comments starting with "#") are skipped; a value's last newline is
// dropped.
func Blocks(t testing.TB, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for block := range strings.SplitSeq(Read(t, path), "\n== ") {
		name, value, ok := strings.Cut(block, "\n")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		out[name] = strings.TrimSuffix(value, "\n")
	}
	return out
}
