package apierr_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/crmsync/crmsync/vendors/apierr"
)

// classified is an error that says its class, as every vendor client's
// error type does.
type classified struct{ c apierr.Class }

func (e classified) Error() string       { return "vendor said no" }
func (e classified) Class() apierr.Class { return e.c }

func TestTheZeroClassIsNeitherTransientNorPermanent(t *testing.T) {
	var zero apierr.Class
	if zero != apierr.Unclassified || zero == apierr.Transient || zero == apierr.Permanent {
		t.Fatalf("zero Class is %v", zero)
	}
	if zero.String() != "unclassified" {
		t.Fatalf("zero Class prints as %q", zero.String())
	}
	// Handled defensively: retried, never given up on.
	if !zero.Temporary() {
		t.Fatal("an unclassified failure would not be retried")
	}
	// A vendor error nobody classified is told apart from an error that
	// was never a vendor answer, so the retry layer can report the bug.
	err := fmt.Errorf("write: %w", classified{})
	if apierr.Classify(err) != apierr.Unclassified || !apierr.IsUnclassified(err) {
		t.Fatalf("class %v, unclassified %v", apierr.Classify(err), apierr.IsUnclassified(err))
	}
	if apierr.IsUnclassified(context.Canceled) || apierr.IsUnclassified(nil) {
		t.Fatal("an error that is not a vendor answer counted as a classification bug")
	}
}

func TestClassifyFindsTheClassInTheChain(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want apierr.Class
	}{
		{"nil", nil, apierr.Unclassified},
		{"not a vendor error", errors.New("boom"), apierr.Unclassified},
		{"context canceled", context.Canceled, apierr.Unclassified},
		{"transient", classified{apierr.Transient}, apierr.Transient},
		{"wrapped permanent", fmt.Errorf("lead 7: %w", classified{apierr.Permanent}), apierr.Permanent},
		{"joined rate-limited", errors.Join(errors.New("x"), classified{apierr.RateLimited}), apierr.RateLimited},
		{"quota", classified{apierr.Quota}, apierr.Quota},
		{"auth", classified{apierr.Auth}, apierr.Auth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := apierr.Classify(tc.err); got != tc.want {
				t.Fatalf("Classify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTemporaryFollowsTheClass(t *testing.T) {
	want := map[apierr.Class]bool{
		apierr.Unclassified: true,
		apierr.Transient:    true,
		apierr.RateLimited:  true,
		apierr.Permanent:    false,
		apierr.Quota:        false,
		apierr.Auth:         false,
	}
	for c, temp := range want {
		if c.Temporary() != temp || apierr.Temporary(classified{c}) != temp {
			t.Errorf("%v: Temporary %v, want %v", c, c.Temporary(), temp)
		}
	}
	if apierr.Temporary(nil) {
		t.Error("nil is temporary")
	}
	if s := apierr.Class(42).String(); s != "class(42)" {
		t.Errorf("unknown class prints as %q", s)
	}
}
