package getlead

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/vendors/apierr"
)

// TestEveryKnownAnswerHasItsClass pins the class of each answer Getlead is
// known to give, read by the same parsers as the client's.
func TestEveryKnownAnswerHasItsClass(t *testing.T) {
	classic := func(status int, body string) error {
		return parseClassicAnswer("gl-website-contacts", status, http.Header{}, []byte(body))
	}
	v3 := func(status int, body string) error {
		return parseV3Answer("PATCH /leads/by-identifier", status, http.Header{}, []byte(body), &struct{}{})
	}
	cases := []struct {
		name               string
		err                error
		want               apierr.Class
		notFound, conflict bool
	}{
		{"classic check the parameters", classic(200, `{"status":"fail","message":"Please check the parameters."}`), apierr.Permanent, false, false},
		{"classic mobile length", classic(200, `{"status":"fail","message":"The mobileno must be between 8 and 14 digits."}`), apierr.Permanent, false, false},
		{"classic enquiry not found", classic(200, `{"status":"error","message":"Enquiry Not Found."}`), apierr.Permanent, true, false},
		{"classic unknown status word", classic(200, `{"status":"pending","message":"?"}`), apierr.Transient, false, false},
		{"classic malformed answer", classic(200, `<html>oops</html>`), apierr.Transient, false, false},
		{"classic 200 wrong token", classic(200, `{"status":"error","message":"Invalid token."}`), apierr.Auth, false, false},
		{"classic 200 unauthenticated", classic(200, `{"status":"fail","message":"Unauthenticated."}`), apierr.Auth, false, false},
		{"classic 401 wrong token", classic(401, `{"status":"error","message":"Unauthenticated."}`), apierr.Auth, false, false},
		{"classic 403", classic(403, `Forbidden`), apierr.Auth, false, false},
		{"classic 404 unknown endpoint", classic(404, `Not Found`), apierr.Permanent, false, false},
		{"classic 429", classic(429, `Too Many Attempts.`), apierr.RateLimited, false, false},
		{"classic 500", classic(500, `Server Error`), apierr.Transient, false, false},
		{"classic 502 html", classic(502, `<html>502 Bad Gateway</html>`), apierr.Transient, false, false},
		{"v3 400", v3(400, `{"error":{"code":"bad_request","message":"bad"}}`), apierr.Permanent, false, false},
		{"v3 401", v3(401, `{"message":"Unauthenticated."}`), apierr.Auth, false, false},
		{"v3 403", v3(403, `{"message":"Forbidden"}`), apierr.Auth, false, false},
		{"v3 404 no such lead", v3(404, `{"error":{"code":"not_found","message":"Lead not found"}}`), apierr.Permanent, true, false},
		{"v3 405", v3(405, `{"message":"Method Not Allowed"}`), apierr.Permanent, false, false},
		{"v3 409 phone on another lead", v3(409, `{"error":{"code":"conflict","message":"phone in use"}}`), apierr.Permanent, false, true},
		{"v3 413", v3(413, `Payload Too Large`), apierr.Permanent, false, false},
		{"v3 422 validation", v3(422, `{"error":{"code":"validation_failed","message":"email invalid"}}`), apierr.Permanent, false, false},
		{"v3 429 retry after", v3(429, `{"error":{"code":"rate_limited","message":"slow","context":{"retry_after":3}}}`), apierr.RateLimited, false, false},
		{"v3 500", v3(500, `{"message":"Server Error"}`), apierr.Transient, false, false},
		{"v3 503 html", v3(503, `<html>unavailable</html>`), apierr.Transient, false, false},
		{"v3 malformed success", v3(200, `{"data":`), apierr.Transient, false, false},
		{"transport", transportError("v3", "GET /meta", errors.New("connection refused")), apierr.Transient, false, false},
		{"transport timeout", transportError("v3", "GET /meta", context.DeadlineExceeded), apierr.Transient, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := testenv.VendorError[*Error](t, tc.err, tc.want)
			if IsNotFound(tc.err) != tc.notFound || IsConflict(tc.err) != tc.conflict {
				t.Fatalf("not found %v, conflict %v (%v)", IsNotFound(tc.err), IsConflict(tc.err), tc.err)
			}
			// The vendor's message travels with the error.
			if e.Message == "" || !strings.Contains(tc.err.Error(), e.Message) {
				t.Fatalf("message lost: %q", tc.err.Error())
			}
		})
	}
}
