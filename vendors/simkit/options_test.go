package simkit

import (
	"testing"
	"time"
)

func TestPositiveOrKeepsOnlyValuesAboveZero(t *testing.T) {
	for _, tc := range []struct{ v, want int }{{3, 3}, {0, 7}, {-2, 7}} {
		if got := PositiveOr(tc.v, 7); got != tc.want {
			t.Errorf("PositiveOr(%d, 7) = %d, want %d", tc.v, got, tc.want)
		}
	}
	if got := PositiveOr(time.Duration(0), time.Second); got != time.Second {
		t.Errorf("PositiveOr(0s, 1s) = %v", got)
	}
}
