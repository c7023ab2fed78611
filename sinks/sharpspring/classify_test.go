package sharpspring

import (
	"errors"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline/sinktest"
	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// TestEachClassBecomesItsPipelineError pins what the route does with each
// SharpSpring answer: dead-letter it with its code, wait and retry, pause
// the account, or retry with backoff.
func TestEachClassBecomesItsPipelineError(t *testing.T) {
	const probe = 10 * time.Minute
	cases := []struct {
		name      string
		err       error
		code      string        // a dead letter with this code
		after     time.Duration // a retry no sooner than this
		quota     bool          // a pause of the account
		unchanged bool          // retried with backoff as it is
	}{
		{"205 dead-letters", &sharpspring.Error{Method: "createLeads", Code: 205, Message: "Invalid parameters"}, "205", 0, false, false},
		{"HTTP 403 dead-letters", &sharpspring.Error{Method: "getFields", HTTPStatus: 403, Message: "Forbidden"}, "http-403", 0, false, false},
		{"105 keeps the records", &sharpspring.Error{Method: "getFields", Code: 105, Message: "User authentication failed."}, "", time.Minute, false, false},
		{"HTTP 401 keeps the records", &sharpspring.Error{Method: "getFields", HTTPStatus: 401, Message: "no"}, "", time.Minute, false, false},
		{"107 waits a second", &sharpspring.Error{Method: "getFields", Code: 107, Message: "Exceeded per second method call limit"}, "", time.Second, false, false},
		{"HTTP 429 waits a second", &sharpspring.Error{Method: "getFields", HTTPStatus: 429, Message: "slow down"}, "", time.Second, false, false},
		{"106 pauses the account", &sharpspring.Error{Method: "getFields", Code: 106, Message: "Exceeded daily method call limit"}, "", 0, true, false},
		{"999 retries", &sharpspring.Error{Method: "getFields", Code: 999, Message: "Unknown error"}, "", 0, false, true},
		{"502 retries", &sharpspring.Error{Method: "getFields", HTTPStatus: 502, Message: "Bad Gateway"}, "", 0, false, true},
		{"not a SharpSpring error passes through", errors.New("gate closed"), "", 0, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err, probe)
			sinktest.CheckClass(t, tc.err, got,
				sinktest.Class{Code: tc.code, After: tc.after, Quota: tc.quota, Unchanged: tc.unchanged})
			if !errors.Is(got, tc.err) {
				t.Fatalf("%v lost the vendor's error", got)
			}
		})
	}
}
