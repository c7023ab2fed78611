package leadexec_test

import (
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/leadexec"
)

// 2026: DST starts Sunday March 8 at 2:00 AM PST (10:00 UTC) and ends
// Sunday November 1 at 2:00 AM PDT (09:00 UTC).
func TestParsePacificAcrossDST2026(t *testing.T) {
	utc := func(mo time.Month, d, h, mi int) time.Time { return time.Date(2026, mo, d, h, mi, 0, 0, time.UTC) }
	cases := []struct {
		in   string
		want time.Time
	}{
		{"3/8/2026 1:59:00 AM", utc(3, 8, 9, 59)},                          // PST, just before the change
		{"3/8/2026 2:00:00 AM", utc(3, 8, 10, 0)},                          // in the gap: read as PST, i.e. 3:00 AM PDT
		{"3/8/2026 2:30:00 AM", utc(3, 8, 10, 30)},                         // in the gap: 3:30 AM PDT
		{"3/8/2026 3:00:00 AM", utc(3, 8, 10, 0)},                          // PDT; the same instant as the gap's 2:00
		{"3/8/2026 12:00:00 PM", utc(3, 8, 19, 0)},                         // PDT
		{"11/1/2026 12:59:59 AM", utc(11, 1, 7, 59).Add(59 * time.Second)}, // PDT
		{"11/1/2026 1:00:00 AM", utc(11, 1, 8, 0)},                         // repeated hour: first (PDT)
		{"11/1/2026 1:30:00 AM", utc(11, 1, 8, 30)},                        // repeated hour: first (PDT)
		{"11/1/2026 2:00:00 AM", utc(11, 1, 10, 0)},                        // PST
		{"1/5/2014 10:50:54 AM", time.Date(2014, 1, 5, 18, 50, 54, 0, time.UTC)},
		{"07/04/2026 09:15 pm", utc(7, 5, 4, 15)},
		{"7/4/2026", utc(7, 4, 7, 0)},
		{"2026-07-04T12:00:00", utc(7, 4, 19, 0)},
		{"2026-07-04T12:00:00.5", utc(7, 4, 19, 0).Add(500 * time.Millisecond)},
		{"2026-07-04T12:00:00Z", utc(7, 4, 12, 0)},
		{"2026-07-04T12:00:00-05:00", utc(7, 4, 17, 0)},
		{"1/1/0001 12:00:00 AM", time.Date(1, 1, 1, 0, 0, 0, 0, leadexec.Pacific)},
		{"", time.Time{}},
	}
	for _, tc := range cases {
		got, err := leadexec.ParsePacific(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("%q = %v, want %v", tc.in, got.UTC(), tc.want.UTC())
		}
	}
	for _, bad := range []string{"13/1/2026", "2/30/2026 1:00:00 AM", "soon", "1/1/2026 25:00:00", "2026-13-01"} {
		if got, err := leadexec.ParsePacific(bad); err == nil {
			t.Errorf("%q parsed as %v", bad, got)
		}
	}
}

func TestFormatPacificRoundTripAcrossDST2026(t *testing.T) {
	// Every 10 minutes across both changes: format and parse back.
	for _, start := range []time.Time{
		time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC),
	} {
		for i := 0; i < 6*10; i++ {
			at := start.Add(time.Duration(i) * 10 * time.Minute)
			s := leadexec.FormatPacific(at)
			back, err := leadexec.ParsePacific(s)
			if err != nil {
				t.Fatalf("%v → %q: %v", at, s, err)
			}
			// The second 1:xx AM of November 1 (09:00–09:59 UTC, PST) reads
			// back as the first one, an hour earlier.
			want := at
			if at.Month() == time.November && at.Hour() == 9 {
				want = at.Add(-time.Hour)
			}
			if !back.Equal(want) {
				t.Errorf("%v → %q → %v, want %v", at, s, back.UTC(), want)
			}
		}
	}
	if s := leadexec.FormatPacific(time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC)); s != "11/1/2026 1:30:00 AM" {
		t.Errorf("format %q", s)
	}
	if s := leadexec.FormatPacific(time.Time{}); s != "" {
		t.Errorf("zero %q", s)
	}
}
