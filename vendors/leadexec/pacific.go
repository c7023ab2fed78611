package leadexec

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // LeadExec dates are Pacific Time; work on hosts without zoneinfo
)

// Pacific is America/Los_Angeles, the zone of the account API's dates
// (DateAdded and every other ASMX DateTime). The zone database is embedded,
// so this never depends on the host.
var Pacific = loadPacific()

func loadPacific() *time.Location {
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil { // unreachable: time/tzdata is linked in
		panic("leadexec: " + err.Error())
	}
	return loc
}

// PacificLayout is the US-style date LeadExec shows and the ASMX service
// writes: "1/5/2014 10:50:54 AM".
const PacificLayout = "1/2/2006 3:04:05 PM"

// Layouts read by ParsePacific; wall-clock layouts are taken as Pacific
// Time, layouts with a zone as the instant they name.
var (
	wallLayouts = []string{
		"1/2/2006 3:04:05 PM", "1/2/2006 3:04 PM", "1/2/2006 15:04:05", "1/2/2006 15:04", "1/2/2006",
		"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02",
	}
	zonedLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05Z07:00"}
)

// ParsePacific reads a LeadExec date. The US form ("1/5/2014 10:50:54 AM",
// also without seconds, in 24-hour time, or date only) and .NET's ISO form
// without an offset ("2014-01-05T10:50:54.123") are Pacific wall-clock
// times; an ISO form with an offset or Z is the instant it names. "" is the
// zero time. The result is in [Pacific].
//
// Wall-clock times that do not name exactly one instant are resolved
// deterministically:
//
//   - In the fall-back hour, which happens twice (1:00–1:59 AM on the first
//     Sunday of November), the first occurrence (PDT) is chosen. A time in
//     the second occurrence therefore reads one hour early; LeadExec's
//     strings do not say which one was meant.
//   - In the spring-forward gap (2:00–2:59 AM on the second Sunday of
//     March), the time is read with the offset in force before the change
//     (PST), which moves it forward by the gap: "3/8/2026 2:30:00 AM" is
//     3:30 AM PDT. This never fails, so one odd date cannot sink a whole
//     client list.
func ParsePacific(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	u := strings.ToUpper(s) // "am"/"pm" → "AM"/"PM"; digits are unaffected
	t, ok := time.Time{}, false
	for _, l := range zonedLayouts {
		if z, err := time.Parse(l, u); err == nil {
			t, ok = z.In(Pacific), true
			break
		}
	}
	for _, l := range wallLayouts {
		if ok {
			break
		}
		if w, err := time.ParseInLocation(l, u, time.UTC); err == nil {
			t, ok = pacificWall(w), true
		}
	}
	switch {
	case !ok:
		return time.Time{}, fmt.Errorf("leadexec: %q is not a LeadExec date", shorten(s))
	case t.Year() < 1 || t.Year() > 9999:
		return time.Time{}, fmt.Errorf("leadexec: %q is outside years 1–9999 in Pacific Time", shorten(s))
	}
	return t, nil
}

// FormatPacific writes t in Pacific Time in the US form LeadExec uses,
// "1/5/2014 10:50:54 AM". Sub-second precision is dropped; the zero time is
// "". A time in the second fall-back hour formats like the first, so
// ParsePacific(FormatPacific(t)) is t except there (and truncated to the
// second).
func FormatPacific(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(Pacific).Format(PacificLayout)
}

// pacificWall returns the instant at which Pacific clocks show the wall
// time held (as UTC fields) in w, resolving overlaps and gaps as
// ParsePacific documents.
func pacificWall(w time.Time) time.Time {
	// Zone changes are months apart, so the offsets a day and a half
	// either side are the only candidates.
	before, after := offsetAt(w.Add(-36*time.Hour)), offsetAt(w.Add(36*time.Hour))
	var best time.Time
	found := false
	for _, off := range []int{before, after} {
		t := w.Add(-time.Duration(off) * time.Second)
		if sameWall(t.In(Pacific), w) && (!found || t.Before(best)) {
			best, found = t, true
		}
	}
	if !found {
		best = w.Add(-time.Duration(before) * time.Second)
	}
	return best.In(Pacific)
}

func offsetAt(t time.Time) int {
	_, off := t.In(Pacific).Zone()
	return off
}

func sameWall(a, b time.Time) bool {
	return a.Year() == b.Year() && a.YearDay() == b.YearDay() && a.Hour() == b.Hour() &&
		a.Minute() == b.Minute() && a.Second() == b.Second() && a.Nanosecond() == b.Nanosecond()
}
