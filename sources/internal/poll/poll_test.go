package poll

import (
	"strings"
	"testing"
	"time"
)

func TestOrDefaultReplacesOnlyASettingBelowOne(t *testing.T) {
	for _, tc := range []struct{ v, want time.Duration }{
		{0, time.Minute},
		{-time.Second, time.Minute},
		{time.Nanosecond, time.Nanosecond},
		{time.Hour, time.Hour},
	} {
		if got := OrDefault(tc.v, time.Minute); got != tc.want {
			t.Errorf("OrDefault(%v, 1m) = %v, want %v", tc.v, got, tc.want)
		}
	}
	if got := OrDefault(-3, 50); got != 50 {
		t.Errorf("OrDefault(-3, 50) = %d, want 50", got)
	}
}

func TestNoneOrDefaultKeepsANegativeSettingAsNone(t *testing.T) {
	for _, tc := range []struct{ v, want time.Duration }{
		{0, time.Minute},
		{-time.Second, 0},
		{time.Nanosecond, time.Nanosecond},
		{time.Hour, time.Hour},
	} {
		if got := NoneOrDefault(tc.v, time.Minute); got != tc.want {
			t.Errorf("NoneOrDefault(%v, 1m) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestQuoteShortCutsLongValuesToValidUTF8(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{`abc`, 3, `"abc"`},
		{`abcd`, 3, `"abc"…`},
		{"aé", 2, `"a"…`},
	} {
		if got := QuoteShort(tc.s, tc.max); got != tc.want {
			t.Errorf("QuoteShort(%q, %d) = %s, want %s", tc.s, tc.max, got, tc.want)
		}
	}
}

func TestDecodeCursorRefusesWhatWasNotWritten(t *testing.T) {
	var c struct{ From string }
	if err := DecodeCursor(`{"From":"x"}`, &c); err != nil || c.From != "x" {
		t.Fatalf("cursor %+v, %v", c, err)
	}
	for _, tc := range []struct{ raw, want string }{
		{``, "is not readable"},
		{`{"from":"x","to":"y"}`, "unknown field"},
		{`{"From":"x"} {}`, "has data after the object"},
	} {
		if err := DecodeCursor(tc.raw, &c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.raw, err, tc.want)
		}
	}
}

func TestRangeEndIsLagBeforeNowOrAnEarlierUntil(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.FixedZone("", 3600))
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		lag   time.Duration
		until time.Time
		want  time.Time
	}{
		{time.Minute, time.Time{}, now.UTC().Add(-time.Minute)},
		{0, time.Time{}, now.UTC()},
		{time.Minute, now.Add(-time.Hour), now.UTC().Add(-time.Hour)},
		{time.Minute, now.Add(time.Hour), now.UTC().Add(-time.Minute)},
	} {
		if got := RangeEnd(clock, tc.lag, tc.until); !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("RangeEnd(lag %v, until %v) = %v, want %v in UTC", tc.lag, tc.until, got, tc.want)
		}
	}
}
