package poll

import (
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
