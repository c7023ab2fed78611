package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// envMarker starts every value the fuzzed environment holds.
const envMarker = "ENVVALUE"

// FuzzParse: whatever the bytes, Parse does not panic and returns either a
// valid config or *Errors (or a YAML syntax error), never both; problems are
// UTF-8, and no value read from the environment appears in them unless the
// file itself holds it.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../../crmsync.example.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		manyProblems,
		`
sharpspring: {account_id: "1", secret_key: "${K}"}
leadexec: {webhook: {bearer_token: t}}
routes: [{from: leadexec.lead, to: sharpspring.lead}]
`,
		`
ivvy: {endpoint: "http://127.0.0.1:1", api_key: k, api_secret: "${S}", poller: {since: 2026-01-02T03:04:05Z}}
getlead: {mode: v3, api_key: "${GL}"}
routes: [{name: x, from: ivvy.lead, to: getlead.lead, linger: 1s, status_map: {New: Hot}}]
`,
		"a: &x [*x]\n",
		"routes: [{from: ${A}, to: ${B}}, {from: ${A}, to: ${B}}]\n",
		"bus: {nats: {ack_wait: {a: b}}}\nlog: [1]\n",
		"data_dir: !!binary Zm9v\n",
		"---\n...\n---\nx: 1\n",
		"",
	} {
		f.Add([]byte(s))
	}
	lookup := func(name string) (string, bool) {
		if strings.HasPrefix(name, "U") {
			return "", false
		}
		return envMarker + "-" + name, true
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b, lookup)
		if (c == nil) == (err == nil) {
			t.Fatalf("config %v with error %v", c != nil, err)
		}
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("accepted config does not validate: %v", err)
			}
			return
		}
		msg := err.Error()
		if !utf8.ValidString(msg) {
			t.Fatalf("error is not UTF-8: %q", msg)
		}
		var ce *Errors
		if errors.As(err, &ce) {
			if len(ce.List) == 0 {
				t.Fatal("*Errors without a problem")
			}
			for _, p := range ce.List {
				if p == nil || p.Error() == "" {
					t.Fatalf("empty problem in %v", ce.List)
				}
			}
		}
		if strings.Contains(msg, envMarker) && !strings.Contains(string(b), envMarker) {
			t.Fatalf("a value from the environment is in the error:\n%s", msg)
		}
	})
}
