package pipeline

import (
	"testing"
	"time"
)

func TestSealIsDeterministic(t *testing.T) {
	mk := func(fields map[string]string, changed time.Time) Event {
		ev := Event{Vendor: "leadexec", Entity: "lead", ExternalID: "42", Fields: fields, ChangedAt: changed}
		if err := ev.Seal(); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	t0 := time.Now()
	a := mk(map[string]string{"Email": "a@example.com", "City": "Austin"}, t0)
	b := mk(map[string]string{"City": "Austin", "Email": "a@example.com"}, t0.Add(time.Hour))
	if a.ID != b.ID {
		t.Fatalf("same content, different ids: %s %s", a.ID, b.ID)
	}
	c := mk(map[string]string{"Email": "a@example.com", "City": "Dallas"}, t0)
	if c.ID == a.ID {
		t.Fatal("different content, same id")
	}
	d := mk(map[string]string{"Email": "a@example.com", "City": ""}, t0)
	e := mk(map[string]string{"Email": "a@example.com"}, t0)
	if d.ID == e.ID {
		t.Fatal("an explicit empty and an absent field got the same id")
	}
}

func TestSealRejectsIncompleteEvents(t *testing.T) {
	for _, ev := range []Event{{Entity: "lead", ExternalID: "1"}, {Vendor: "x", ExternalID: "1"}, {Vendor: "x", Entity: "lead"}} {
		if err := ev.Seal(); err == nil {
			t.Errorf("Seal(%+v) succeeded", ev)
		}
	}
}

func TestUnmarshalEventRoundTrip(t *testing.T) {
	ev := Event{Vendor: "leadexec", Entity: "lead", ExternalID: "1", Fields: map[string]string{"a": ""}, ChangedAt: time.Unix(1700000000, 5).UTC()}
	ev.Seal()
	b, _ := ev.Marshal()
	got, err := UnmarshalEvent(b)
	if err != nil || got.ID != ev.ID || !got.ChangedAt.Equal(ev.ChangedAt) || got.Fields["a"] != "" || len(got.Fields) != 1 {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	if _, err := UnmarshalEvent([]byte(`{"vendor":"x"}`)); err == nil {
		t.Fatal("incomplete envelope accepted")
	}
	if _, err := UnmarshalEvent(append(b, " \n"...)); err != nil {
		t.Fatalf("event followed by white space refused: %v", err)
	}
	if _, err := UnmarshalEvent(append(b, `{}`...)); err == nil {
		t.Fatal("event followed by more data accepted")
	}
}

func TestEncodeRefusesAnEventThatWasNeverSealed(t *testing.T) {
	ev := Event{Vendor: "leadexec", Entity: "lead", ExternalID: "42", Fields: map[string]string{"Email": "a@example.com"}}
	if _, err := ev.Encode(); err == nil {
		t.Fatal("an event without an id encoded")
	}
	if err := ev.Seal(); err != nil {
		t.Fatal(err)
	}
	got, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if back, err := UnmarshalEvent(got); err != nil || back.ID != ev.ID {
		t.Fatalf("encoded %s, read back %+v (%v)", got, back, err)
	}
}

// SizeBound is never below the encoded size, whatever the strings hold:
// characters JSON escapes six bytes long (control characters, <, >, &,
// bytes that are not UTF-8, U+2028), empty values and the latest time.
func FuzzSizeBoundCoversTheEncoding(f *testing.F) {
	f.Add("42", "Email", "a@example.com", "v1", int64(1700000000))
	f.Add("\x01\x02<>&", "\xff\xfe", "\u2028\u2029\"\\", "", int64(253402300799))
	f.Add("", "", "", "", int64(-62135596800))
	f.Fuzz(func(t *testing.T, id, field, value, version string, unix int64) {
		ev := Event{ID: id, Vendor: "leadexec", Entity: "lead", ExternalID: id, Op: OpUpsert, Version: version,
			Fields: map[string]string{field: value, value: field}, ChangedAt: time.Unix(unix, 999999999).UTC(),
			Origin: OriginBackfill}
		data, err := ev.Marshal()
		if err != nil {
			return // a time JSON cannot hold: Marshal itself refuses it
		}
		if bound := ev.SizeBound(); len(data) > bound {
			t.Fatalf("encoded %d bytes, over the bound %d: %s", len(data), bound, data)
		}
	})
}
