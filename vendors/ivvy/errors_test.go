package ivvy

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/vendors/apierr"
)

// TestEveryKnownAnswerHasItsClass pins the class of each answer iVvy is
// known to give, read by the same decoders as the client's.
func TestEveryKnownAnswerHasItsClass(t *testing.T) {
	body := func(status int, raw string) error {
		if e := decodeError("contact", "addOrUpdateLead", status, []byte(raw)); e != nil {
			return e
		}
		return nil
	}
	write := func(raw string) error {
		_, err := decodeWrite("contact", "addOrUpdateLead", []byte(raw))
		return err
	}
	errBody := func(code, specific int) string {
		return `{"errorCode":` + strconv.Itoa(code) + `,"message":"refused","specificCode":` + strconv.Itoa(specific) + `,"additionalMessages":["detail"]}`
	}
	cases := []struct {
		name  string
		err   error
		want  apierr.Class
		stale bool
	}{
		{"stale request 23005", body(401, errBody(401, CodeStaleRequest)), apierr.Transient, true},
		{"invalid parameter 23016", body(400, errBody(400, CodeInvalidParameter)), apierr.Permanent, false},
		{"missing parameter 23017", body(400, errBody(400, CodeMissingParameter)), apierr.Permanent, false},
		{"empty lead 24215", body(200, errBody(400, CodeLeadEmpty)), apierr.Permanent, false},
		{"lead not found 24216", body(200, errBody(400, CodeLeadNotFound)), apierr.Permanent, false},
		{"invalid lead 24218", body(200, errBody(400, CodeLeadInvalid)), apierr.Permanent, false},
		{"batch bad job 24092", body(400, errBody(400, CodeBatchBadJob)), apierr.Permanent, false},
		{"batch empty params 24093", body(400, errBody(400, CodeBatchEmptyParams)), apierr.Permanent, false},
		{"batch too many jobs 24448", body(400, errBody(400, CodeBatchTooManyJobs)), apierr.Permanent, false},
		{"batch not done 24114", body(400, errBody(400, CodeBatchNotDone)), apierr.Permanent, false},
		{"batch not saved 24091 as a 500", body(500, errBody(500, CodeBatchNotSaved)), apierr.Transient, false},
		{"wrong signature 23003", body(401, errBody(401, 23003)), apierr.Auth, false},
		{"unknown key 23002", body(401, errBody(401, 23002)), apierr.Auth, false},
		{"403", body(403, errBody(403, 0)), apierr.Auth, false},
		{"462", body(200, errBody(462, 0)), apierr.Auth, false},
		{"463", body(200, errBody(463, 0)), apierr.Auth, false},
		{"400", body(400, errBody(400, 0)), apierr.Permanent, false},
		{"404 unknown action", body(404, `{"errorCode":404,"message":"Not found"}`), apierr.Permanent, false},
		{"405", body(405, ``), apierr.Permanent, false},
		{"406", body(406, ``), apierr.Permanent, false},
		{"461", body(200, errBody(461, 0)), apierr.Permanent, false},
		{"460 unknown", body(200, errBody(460, 0)), apierr.Transient, false},
		{"429", body(429, `{"errorCode":429,"message":"Too many requests"}`), apierr.RateLimited, false},
		{"500", body(500, `{"errorCode":500,"message":"Internal error"}`), apierr.Transient, false},
		{"503 html", body(503, `<html>Service Unavailable</html>`), apierr.Transient, false},
		{"add/update success false", write(`{"success":false,"message":"Invalid email"}`), apierr.Permanent, false},
		{"add/update answer without an id", write(`{"success":true}`), apierr.Permanent, false},
		{"add/update malformed", write(`{"success":`), apierr.Transient, false},
		{"malformed answer", decodeAnswer("crm", "getLeadList", []byte(`[1,`), &struct{}{}), apierr.Transient, false},
		{"transport", transportError("test", "ping", errors.New("connection reset by peer")), apierr.Transient, false},
		{"transport timeout", transportError("test", "ping", context.DeadlineExceeded), apierr.Transient, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := testenv.VendorError[*Error](t, tc.err, tc.want)
			if IsStale(tc.err) != tc.stale {
				t.Fatalf("IsStale %v (%v)", IsStale(tc.err), tc.err)
			}
			// The vendor's code and message travel with the error.
			if e.Message == "" || !strings.Contains(tc.err.Error(), e.Message) {
				t.Fatalf("message lost: %q", tc.err.Error())
			}
			if e.SpecificCode != 0 && !strings.Contains(tc.err.Error(), strconv.Itoa(e.SpecificCode)) {
				t.Fatalf("code lost: %q", tc.err.Error())
			}
		})
	}
}
