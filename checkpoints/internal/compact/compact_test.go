package compact

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/golden"
	"github.com/crmsync/crmsync/pipeline"
)

func TestFieldsReadBackEqual(t *testing.T) {
	at := time.Date(2026, 12, 4, 13, 12, 4, 690942085, time.UTC)
	cases := []struct {
		name   string
		fields map[string]pipeline.FieldStamp
	}{
		{"none", map[string]pipeline.FieldStamp{}},
		{"one write echoed", map[string]pipeline.FieldStamp{
			"firstName": {At: at, Hash: pipeline.ValueHash("Ada"), Wrote: []string{"leadexec:" + pipeline.ValueHash("Ada")}},
			"city":      {At: at, Hash: pipeline.ValueHash("Oslo"), Wrote: []string{"leadexec:" + pipeline.ValueHash("Oslo")}},
		}},
		{"every stamp", map[string]pipeline.FieldStamp{
			"email": {At: at, Hash: "8a2de44a43d20579", Seen: at.Add(time.Hour), Pending: at.Add(-time.Minute),
				Sent: at.Add(90 * time.Second).Truncate(time.Second), Prev: "a161e03bf85ef872", WroteAt: at.Add(-time.Second),
				Wrote: []string{"ivvy:01", "leadexec:8a2de44a43d20579", "ivvy:8a2de44a43d20579", "no colon", "getlead:not hex", "ivvy:"}},
		}},
		{"text hashes and odd names", map[string]pipeline.FieldStamp{
			"":        {Hash: ""},
			"a":       {Hash: "a", Prev: "ABCD"},
			"ünïcode": {Hash: "0", At: time.Unix(-1e10, 1).UTC()},
			"far":     {At: time.Date(9999, 1, 1, 0, 0, 0, 999999999, time.UTC), Seen: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := Fields(c.fields)
			got, err := ParseFields(b)
			if err != nil {
				t.Fatalf("ParseFields(%x): %v", b, err)
			}
			if !reflect.DeepEqual(got, c.fields) {
				t.Fatalf("read back\n%+v\nwant\n%+v", got, c.fields)
			}
		})
	}
}

// TestFieldsOfOneWriteAreSmall pins the size of the common entry: five
// fields written from another vendor in one batch, echoed back.
func TestFieldsOfOneWriteAreSmall(t *testing.T) {
	at := time.Date(2026, 12, 4, 13, 12, 4, 690942085, time.UTC)
	fields := map[string]pipeline.FieldStamp{}
	for _, f := range []string{"firstName", "lastName", "emailAddress", "city", "Favorite_Color_6b12bc2494d4c"} {
		h := pipeline.ValueHash(f)
		fields[f] = pipeline.FieldStamp{At: at, Hash: h, Wrote: []string{"leadexec:" + h}}
	}
	// Version and count 2; names 61 + 5 length bytes; 5 × (flags, 9-byte
	// hash, Wrote count, 1-byte ref) = 60; the first time 9 bytes and 1
	// each after it = 13; "leadexec" once = 9. JSON took 561.
	if n := len(Fields(fields)); n > 151 {
		t.Fatalf("five echoed fields take %d bytes, want at most 151", n)
	}
}

func TestIDsReadBackEqualAndPackHex(t *testing.T) {
	for _, c := range []struct {
		id     string
		prefix string
		packed int // bytes of the BLOB, 0 for TEXT
	}{
		{"f290c817f8d693b69f61910b6c13c575", "", 17},
		{pipeline.CanonicalID(pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: "id", Value: "0"}), "", 17},
		{pipeline.CanonicalID(pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: "email", Value: "a@example.com"}), "", 13},
		{"leadexec-lead-5877386ca1723afef2de0f7cd64c5c75", "leadexec-lead-", 17},
		{"ivvy-lead-5877386ca1723afef2de0f7cd64c5c75", "leadexec-lead-", 0},
		{"cz", "", 0}, {"c", "", 0}, {"c1", "", 2}, {"", "", 0}, {"h1", "", 0}, {"ABCD", "", 0}, {"abc", "", 0},
		{"leadexec-lead-", "leadexec-lead-", 0},
	} {
		v := Prefixed(c.prefix, c.id)
		if b, ok := v.([]byte); ok != (c.packed > 0) || ok && len(b) != c.packed {
			t.Errorf("Prefixed(%q, %q) = %#v, want %d packed bytes", c.prefix, c.id, v, c.packed)
		}
		got, err := ParsePrefixed(c.prefix, v)
		if err != nil || got != c.id {
			t.Errorf("ParsePrefixed(Prefixed(%q)) = %q, %v", c.id, got, err)
		}
	}
	if _, err := ParseID([]byte{7, 1}); err == nil {
		t.Error("ParseID accepted an unknown tag")
	}
}

func TestNanosReadBackEqual(t *testing.T) {
	for _, at := range []time.Time{{}, time.Date(2026, 12, 4, 13, 12, 4, 690942085, time.UTC), time.Unix(0, 1)} {
		if got := FromNanos(Nanos(at)); !got.Equal(at) {
			t.Errorf("FromNanos(Nanos(%v)) = %v", at, got)
		}
	}
}

// FuzzParseFields feeds arbitrary bytes (a damaged state file) to the
// decoder: an error or a value that encodes back to the same bytes, never a
// panic.
func FuzzParseFields(f *testing.F) {
	at := time.Date(2026, 12, 4, 13, 12, 4, 690942085, time.UTC)
	f.Add(Fields(map[string]pipeline.FieldStamp{"x": {At: at, Hash: "ab", Wrote: []string{"v:ab", "w"}, Prev: "p"}}))
	f.Add([]byte{1, 1, 0, 0, 0})
	f.Add([]byte{1, 200, 200, 200, 200, 1})
	f.Add(append([]byte{1, 1, 1, 'a', hasWrote, 0, 255, 255, 255, 255, 15}, bytes.Repeat([]byte{0}, 8)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, err := ParseFields(b)
		if err != nil {
			return
		}
		again, err := ParseFields(Fields(fields))
		if err != nil || !reflect.DeepEqual(again, fields) {
			t.Fatalf("%s decoded to %+v, which does not read back (%v)", hex.EncodeToString(b), fields, err)
		}
	})
}

// goldenFields are field sets as routes leave them in the ledger.
var goldenFields = []struct {
	name   string
	fields map[string]pipeline.FieldStamp
}{
	{"sharpspring lead written from leadexec", map[string]pipeline.FieldStamp{
		"firstName":                    {At: time.Date(2026, 12, 4, 13, 12, 4, 690942085, time.UTC), Hash: "a28ea020beedac1a", Wrote: []string{"leadexec:a28ea020beedac1a"}},
		"Favorite_Color_6b12bc2494d4c": {At: time.Date(2026, 12, 4, 13, 12, 4, 690942085, time.UTC), Hash: "50e788760be38aa5", Wrote: []string{"leadexec:50e788760be38aa5"}},
	}},
	{"leadexec lead as its poller reported it", map[string]pipeline.FieldStamp{
		"Email": {At: time.Date(2026, 12, 4, 13, 12, 4, 0, time.UTC), Hash: "8a2de44a43d20579", Seen: time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)},
	}},
	{"in doubt, then written again", map[string]pipeline.FieldStamp{
		"city": {At: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Hash: "a161e03bf85ef872",
			Pending: time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC), Sent: time.Date(2026, 3, 1, 10, 0, 1, 0, time.UTC),
			Prev: "111b0465e1f26b99", Wrote: []string{"ivvy:111b0465e1f26b99", "leadexec:a161e03bf85ef872"}},
	}},
	{"a write on its way", map[string]pipeline.FieldStamp{
		"firstName": {Sent: time.Date(2026, 12, 4, 15, 58, 41, 100000000, time.UTC), Wrote: []string{"leadexec:a28ea020beedac1a"},
			WroteAt: time.Date(2026, 12, 4, 15, 58, 38, 923000000, time.UTC)},
	}},
}

// TestFieldsFormatGolden pins the stored form of the ledger's field stamps:
// a state written by one crmsync is read by the next. Run
// `go test ./checkpoints/internal/compact -run Golden -update` only for a
// deliberate change, one that comes with a migration of stored entries.
func TestFieldsFormatGolden(t *testing.T) {
	var b strings.Builder
	for _, g := range goldenFields {
		fmt.Fprintf(&b, "%s\n%x\n", g.name, Fields(g.fields))
	}
	golden.Compare(t, "testdata/fields.golden", []byte(b.String()))
	lines := strings.Split(strings.TrimSpace(golden.Read(t, "testdata/fields.golden")), "\n")
	for i, g := range goldenFields {
		raw, err := hex.DecodeString(lines[2*i+1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseFields(raw)
		if err != nil || !reflect.DeepEqual(got, g.fields) {
			t.Errorf("%s: golden bytes read back as %+v, %v", g.name, got, err)
		}
	}
}
