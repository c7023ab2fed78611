package pipeline_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/apierr"
)

// FromVendor sorts a vendor's failure by its class: credentials wait a
// minute, a rate limit waits what the sink says, a refusal is permanent
// under the vendor's code, and the rest is returned as it is.
func TestFromVendorSortsByClass(t *testing.T) {
	for _, tc := range []struct {
		class     apierr.Class
		wait      time.Duration // 0: not a RetryAfterError
		permanent bool
	}{
		{apierr.Auth, pipeline.AuthWait, false},
		{apierr.RateLimited, 3 * time.Second, false},
		{apierr.Permanent, 0, true},
		{apierr.Transient, 0, false},
		{apierr.Unclassified, 0, false},
		{apierr.Quota, 0, false},
	} {
		t.Run(tc.class.String(), func(t *testing.T) {
			cause := fmt.Errorf("write: %w", vendorError{tc.class})
			got := pipeline.FromVendor(cause, "205", 3*time.Second)
			if !errors.Is(got, cause) {
				t.Fatalf("FromVendor lost the vendor's error: %v", got)
			}
			var ra *pipeline.RetryAfterError
			if isRA := errors.As(got, &ra); isRA != (tc.wait > 0) || isRA && ra.After != tc.wait {
				t.Errorf("retry after = %v (%v), want %v", ra, isRA, tc.wait)
			}
			var pe *pipeline.PermanentError
			if isPE := errors.As(got, &pe); isPE != tc.permanent || isPE && pe.Code != "205" {
				t.Errorf("permanent = %v (%v), want %v with code 205", pe, isPE, tc.permanent)
			}
			if tc.wait == 0 && !tc.permanent && got != cause {
				t.Errorf("a %s failure came back as %#v, want it as it was", tc.class, got)
			}
		})
	}
}
