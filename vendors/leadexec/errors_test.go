package leadexec

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/vendors/apierr"
)

// TestEveryKnownAnswerHasItsClass pins the class of each answer LeadExec is
// known to give, built by the same functions as the client's.
func TestEveryKnownAnswerHasItsClass(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	status := func(kind string, st int, body string, h http.Header) error {
		return statusError("GetClientList", kind, &response{status: st, header: h, body: []byte(body)}, now)
	}
	rest := func(st int, body string) error { return status("rest", st, body, http.Header{}) }
	asmx := func(body string) error { return status("asmx", 500, body, http.Header{}) }
	reject := func(rt ResponseType) error {
		return PostResponse{ResponseType: rt, ResponseDetails: "detail"}.Err()
	}
	cases := []struct {
		name     string
		err      error
		want     apierr.Class
		sentinel error
	}{
		{"400", rest(400, `{"message":"The request is invalid."}`), apierr.Permanent, ErrInvalidRequest},
		{"401", rest(401, `{"message":"Authorization has been denied for this request."}`), apierr.Auth, ErrInvalidCredentials},
		{"403", rest(403, `Forbidden`), apierr.Auth, ErrInvalidCredentials},
		{"404 unknown client", rest(404, `{"message":"Client not found"}`), apierr.Permanent, ErrNotFound},
		{"405", rest(405, ``), apierr.Permanent, nil},
		{"408", rest(408, ``), apierr.Transient, nil},
		{"409", rest(409, `{"message":"conflict"}`), apierr.Permanent, nil},
		{"422", rest(422, `{"title":"One or more validation errors occurred."}`), apierr.Permanent, ErrInvalidRequest},
		{"429 with Retry-After", status("rest", 429, `Too many requests`, http.Header{"Retry-After": {"30"}}), apierr.RateLimited, ErrRateLimited},
		{"429 without Retry-After", rest(429, ``), apierr.RateLimited, ErrRateLimited},
		{"500", rest(500, `{"message":"An error has occurred."}`), apierr.Transient, nil},
		{"502 html", rest(502, `<html>Bad Gateway</html>`), apierr.Transient, nil},
		{"503", rest(503, `Service Unavailable`), apierr.Transient, nil},
		{"302", rest(302, ``), apierr.Transient, nil},
		{"asmx missing parameter", asmx("System.InvalidOperationException: Missing parameter: ClientUID.\r\n   at System.Web..."), apierr.Permanent, ErrInvalidRequest},
		{"asmx cannot convert", asmx("System.ArgumentException: Cannot convert abc to System.Int64.\nParameter name: type"), apierr.Permanent, ErrInvalidRequest},
		{"asmx request format", asmx("System.InvalidOperationException: Request format is invalid: text/plain."), apierr.Permanent, ErrInvalidRequest},
		{"asmx unauthorized", asmx("System.UnauthorizedAccessException: Access denied."), apierr.Auth, ErrInvalidCredentials},
		{"asmx invalid key", asmx("System.Exception: Invalid API key."), apierr.Auth, ErrInvalidCredentials},
		{"asmx server fault", asmx("System.NullReferenceException: Object reference not set to an instance of an object."), apierr.Transient, nil},
		{"asmx html", asmx("<html><body>Runtime Error</body></html>"), apierr.Transient, nil},
		{"malformed answer", malformed("GetClientList", 200, "cannot read XML", []byte("<Clients><Cli"), nil), apierr.Transient, ErrMalformed},
		{"refused before sending", invalidRequest("EditClient", "a new client needs a password"), apierr.Permanent, ErrInvalidRequest},
		{"credentials not configured", missingCredentials("InsertV2", "the api-key"), apierr.Permanent, ErrMissingCredentials},
		{"transport", transportError("InsertV1", errors.New("connection refused"), nil), apierr.Transient, nil},
		{"transport canceled", transportError("InsertV1", context.Canceled, nil), apierr.Transient, context.Canceled},
		{"Post_Over_Max", reject(PostOverMax), apierr.RateLimited, ErrRejected},
		{"unknown response type", reject(ResponseUnknown), apierr.Transient, ErrRejected},
		{"Data_Errors", reject(DataErrors), apierr.Permanent, ErrRejected},
		{"Outside_Criteria", reject(OutsideCriteria), apierr.Permanent, ErrRejected},
		{"No_Account_Found", reject(NoAccountFound), apierr.Permanent, ErrRejected},
		{"Account_Disabled", reject(AccountDisabled), apierr.Permanent, ErrRejected},
		{"System_ID_Missing", reject(SystemIDMissing), apierr.Permanent, ErrRejected},
		{"LeadType_ID_Missing", reject(LeadTypeIDMissing), apierr.Permanent, ErrRejected},
		{"Vendor_ID_Missing", reject(VendorIDMissing), apierr.Permanent, ErrRejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Both *Error and *RejectError say their class.
			testenv.VendorError[interface {
				error
				Temporary() bool
			}](t, tc.err, tc.want)
			if tc.sentinel != nil && !errors.Is(tc.err, tc.sentinel) {
				t.Fatalf("%v does not match %v", tc.err, tc.sentinel)
			}
		})
	}
	// The vendor's answer travels with the error.
	var re *RejectError
	if err := reject(PostOverMax); !errors.As(err, &re) || !strings.Contains(err.Error(), "Post_Over_Max: detail") {
		t.Fatalf("%v", err)
	}
	var e *Error
	if err := status("rest", 429, ``, http.Header{"Retry-After": {"30"}}); !errors.As(err, &e) || e.RetryAfter != 30*time.Second {
		t.Fatalf("retry after lost: %#v", err)
	}
	if err := asmx("System.InvalidOperationException: Missing parameter: ClientUID."); !errors.As(err, &e) ||
		e.Exception != "System.InvalidOperationException" || e.Message != "Missing parameter: ClientUID." {
		t.Fatalf("exception lost: %#v", err)
	}
}
