package pipeline

import (
	"testing"
	"time"
)

// Two routes read one source. The first settles the source's edit that
// emptied a budget before it ever saw the lead's creation: the empty value
// is taken for the source's "no value". The second route wrote the budget
// from the creation; when it settles the creation, the older report shows
// the field held a value, so the edit's empty value was a clear, and the
// second route must write it (not leave it out as "never set").
func TestAnOlderReportOfAValueTurnsANoValueIntoAClear(t *testing.T) {
	created := time.Date(2026, 12, 5, 17, 8, 42, 253e6, time.UTC)
	edited := created.Add(1668 * time.Millisecond)
	fields := map[string]FieldStamp{}
	report := func(at time.Time, budget string) bool {
		return applyReport(fields, sourceReport{
			fields: map[string]string{"Budget": budget, "City": "Austin"},
			stamps: map[string]time.Time{"Budget": at, "City": at},
		})
	}
	if !report(edited, "") {
		t.Fatal("the edit's report changed nothing")
	}
	if !neverReported(LedgerEntry{Fields: fields}, "Budget", nil) {
		t.Fatalf("after the edit alone the empty budget should be the source's no value: %+v", fields["Budget"])
	}
	if !report(created, "43500") {
		t.Fatal("the creation's report changed nothing")
	}
	st := fields["Budget"]
	if neverReported(LedgerEntry{Fields: fields}, "Budget", nil) {
		t.Fatalf("the budget held 43500 before the edit, yet its empty value is still taken for no value: %+v", st)
	}
	if !st.At.Equal(edited) || st.Hash != emptyHash || !st.Seen.IsZero() {
		t.Fatalf("budget stamp = %+v; want the edit's clear: empty, changed at %s", st, edited)
	}
	if c := fields["City"]; !c.At.Equal(edited) {
		t.Fatalf("city stamp = %+v; the older report must not move it back", c)
	}
}
