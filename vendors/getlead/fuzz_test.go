package getlead

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/internal/testenv"
)

// Answers shaped as Getlead (and getleadsim, which follows the V3 and
// classic documents) sends them.
var (
	seedV3 = []string{
		`{"data":[{"lead_id":"01HX","name":"Ann Lee","email":"ann@example.com","phone_numbers":["+919876543210"],"status_id":"2",` +
			`"status":{"id":"2","name":"Contacted"},"source":"crmsync","notes":"n","custom_fields":[{"field_key":"budget","value":"5000"}],` +
			`"created_at":"2026-03-01T10:00:00.000000Z","updated_at":"2026-03-02T11:30:00Z"}],` +
			`"meta":{"per_page":50,"next_cursor":"eyJpZCI6MX0","prev_cursor":null},"links":{"next":"http://x/api/v1/leads?cursor=eyJpZCI6MX0&per_page=50","prev":null}}`,
		`{"data":[{"id":7,"phone_numbers":[{"number":"+14155550100"}],"custom_fields":{"k":"v","n":null},"status_id":3,"created_at":"2026-01-01 10:00:00"}],"next_cursor":"abc"}`,
		`{"data":[],"meta":{"next_page_url":"%zz"}}`,
		`{"data":{"lead_id":"01HX"}}`,
		`{"data":{"note_id":9}}`,
		`{"data":{"statuses":[{"id":1,"name":"New"},{"id":"2","label":"Hot"}],"custom_fields":[{"field_key":"budget","field_type":"number"}]}}`,
		`{"data":[{"created_at":"yesterday"}]}`,
		`{"data":[{"phone_numbers":"+91"}]}`,
	}
	seedV3Errors = []string{
		`{"message":"slow down","retry_after":60}`,
		`{"error":{"message":"limited","code":"rate_limited","context":{"retry_after":"3"}}}`,
		`{"error":{"message":"Lead not found","code":"not_found"}}`,
		`{"message":"Unauthenticated. key ik_live_abc123"}`,
		`{"retry_after":1e308}`,
	}
	seedClassic = []string{
		`{"status":"success","message":"Enquiry Added Successfully."}`,
		`{"status":"fail","message":"Enquiry Not Found."}`,
		`{"status":"error","message":"Please check the parameters."}`,
		`{"status":"fail","message":"Invalid token gl_abc123"}`,
		`{"status":"maybe"}`,
		`<html>gl_abc%2Bdef</html>`,
	}
)

// checkNoToken fails when a token-shaped word of the answer is in the error.
func checkNoToken(t *testing.T, raw []byte, err error) {
	t.Helper()
	msg := err.Error()
	for _, tok := range secretPattern.FindAllString(string(raw), -1) {
		if strings.HasPrefix(tok[:3]+"REDACTED", tok) {
			continue
		}
		if strings.Contains(msg, tok) {
			t.Fatalf("token %q in error: %s", tok, msg)
		}
	}
}

func checkError(t *testing.T, err error) {
	t.Helper()
	e := testenv.RefusedAnswer[*Error](t, err)
	if e.RetryAfter < 0 || e.RetryAfter > MaxRetryAfter {
		t.Fatalf("retry after %v", e.RetryAfter)
	}
}

// FuzzParseV3Answer reads any body under any status as a lead list, a
// lead, a write answer and /meta: it never panics, an error is *Error,
// and no token or key in the answer reaches the error.
func FuzzParseV3Answer(f *testing.F) {
	for _, s := range seedV3 {
		f.Add([]byte(s), 200, "")
	}
	for _, s := range seedV3Errors {
		f.Add([]byte(s), 429, "5")
	}
	f.Add([]byte("\xff"), 502, "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Fuzz(func(t *testing.T, raw []byte, status int, retryAfter string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		noLeak := func(err error) {
			t.Helper()
			checkError(t, err)
			checkNoToken(t, raw, err)
		}
		var list leadList
		if err := parseV3Answer("GET /leads", status, h, raw, &list); err != nil {
			noLeak(err)
			if status >= 200 && status <= 299 {
				var e *Error
				errors.As(err, &e)
				if !strings.HasPrefix(e.Message, "malformed answer") {
					t.Fatalf("2xx answer refused: %v", err)
				}
			}
		} else {
			list.page()
		}
		var one struct {
			Data Lead `json:"data"`
		}
		if err := parseV3Answer("GET /leads/{id}", status, h, raw, &one); err != nil {
			noLeak(err)
		}
		if err := parseV3Answer("PATCH /leads/{id}", status, h, raw, nil); err != nil {
			noLeak(err)
		}
	})
}

// FuzzParseClassicAnswer: any classic answer is success or *Error without
// the token.
func FuzzParseClassicAnswer(f *testing.F) {
	for _, s := range seedClassic {
		f.Add([]byte(s), 200)
	}
	f.Add([]byte(`{"message":"Too Many Attempts."}`), 429)
	f.Fuzz(func(t *testing.T, raw []byte, status int) {
		err := parseClassicAnswer("gl-website-contacts", status, http.Header{}, raw)
		if err == nil {
			if status != 200 {
				t.Fatalf("status %d accepted", status)
			}
			return
		}
		checkError(t, err)
		checkNoToken(t, raw, err)
	})
}
