package getlead

import (
	"errors"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline/sinktest"
	"github.com/crmsync/crmsync/vendors/getlead"
)

// TestEachClassBecomesItsPipelineError pins what the route does with each
// Getlead answer that reaches the sink's mapping.
func TestEachClassBecomesItsPipelineError(t *testing.T) {
	s := &LeadSink{cfg: Config{RateLimitWait: 7 * time.Second}}
	cases := []struct {
		name      string
		err       error
		code      string        // a dead letter with this code
		after     time.Duration // a retry no sooner than this
		unchanged bool          // retried with backoff as it is
	}{
		{"check the parameters dead-letters", &getlead.Error{API: "classic", Op: "gl-website-contacts", Status: "fail", Message: getlead.MsgCheckParams}, "check-parameters", 0, false},
		{"mobile length dead-letters", &getlead.Error{API: "classic", Op: "gl-website-contacts", Status: "fail", Message: getlead.MsgMobileLength}, "mobile-length", 0, false},
		{"V3 422 dead-letters", &getlead.Error{API: "v3", Op: "PATCH /leads/{id}", HTTPStatus: 422, Code: "validation_failed", Message: "bad"}, "validation_failed", 0, false},
		{"a token refused with HTTP 200 keeps the records", &getlead.Error{API: "classic", Op: "gl-website-contacts", HTTPStatus: 200, Status: "error", Message: "Invalid token."}, "", time.Minute, false},
		{"401 keeps the records", &getlead.Error{API: "v3", Op: "GET /meta", HTTPStatus: 401, Message: "Unauthenticated."}, "", time.Minute, false},
		{"429 waits as asked", &getlead.Error{API: "v3", Op: "GET /meta", HTTPStatus: 429, RetryAfter: 3 * time.Second}, "", 3 * time.Second, false},
		{"429 without a wait waits the configured time", &getlead.Error{API: "classic", Op: "gl-website-contacts", HTTPStatus: 429}, "", 7 * time.Second, false},
		// Left after the sink's own handling: a race, retried.
		{"enquiry not found retries", &getlead.Error{API: "classic", Op: "gl-add-note", Status: "error", Message: getlead.MsgNotFound}, "", 0, true},
		{"V3 404 retries", &getlead.Error{API: "v3", Op: "GET /leads/{id}", HTTPStatus: 404, Message: "Lead not found"}, "", 0, true},
		{"V3 409 retries", &getlead.Error{API: "v3", Op: "POST /leads", HTTPStatus: 409, Message: "phone in use"}, "", 0, true},
		{"500 retries", &getlead.Error{API: "v3", Op: "GET /meta", HTTPStatus: 500, Message: "Server Error"}, "", 0, true},
		{"malformed answer retries", &getlead.Error{API: "classic", Op: "gl-website-contacts", Message: "malformed answer: <html>"}, "", 0, true},
		{"not a Getlead error passes through", errors.New("gate closed"), "", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sinktest.CheckClass(t, tc.err, s.classify(tc.err),
				sinktest.Class{Code: tc.code, After: tc.after, Unchanged: tc.unchanged})
		})
	}
}
