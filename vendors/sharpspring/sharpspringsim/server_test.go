package sharpspringsim

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestEnvelopeErrors(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []struct {
		name   string
		body   string
		code   int
		wantID string // echoed id as raw JSON
	}{
		{"not JSON", `{"method":`, CodeInvalidRequest, "null"},
		{"not an object", `[1,2]`, CodeInvalidRequest, "null"},
		{"missing method", `{"params":{},"id":"a"}`, CodeMissingMethod, `"a"`},
		{"empty method", `{"method":"","params":{},"id":"a"}`, CodeMissingMethod, `"a"`},
		{"missing params", `{"method":"getLeads","id":"a"}`, CodeMissingParams, `"a"`},
		{"null params", `{"method":"getLeads","params":null,"id":"a"}`, CodeMissingParams, `"a"`},
		{"missing id", `{"method":"getLeads","params":{"where":{}}}`, CodeMissingRequestID, "null"},
		{"unknown method", `{"method":"getAccounts","params":{"where":{}},"id":7}`, CodeUnknownMethod, "7"},
		{"method case matters", `{"method":"getleads","params":{"where":{}},"id":"a"}`, CodeUnknownMethod, `"a"`},
		{"getLeads without where", `{"method":"getLeads","params":{},"id":"a"}`, CodeInvalidParams, `"a"`},
		{"createLeads without objects", `{"method":"createLeads","params":{},"id":"a"}`, CodeMissingObjects, `"a"`},
		{"createLeads objects scalar", `{"method":"createLeads","params":{"objects":"x"},"id":"a"}`, CodeMalformedObject, `"a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := h.post(context.Background(), h.url(VersionV12), []byte(tc.body), nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != 200 || r.errCode() != tc.code {
				t.Fatalf("got HTTP %d %s, want 200 with code %d", r.Status, r.Body, tc.code)
			}
			if got := string(r.member("id")); got != tc.wantID {
				t.Errorf("id = %s, want %s", got, tc.wantID)
			}
			if string(r.member("result")) != "null" {
				t.Errorf("result = %s, want null", r.member("result"))
			}
		})
	}
}

func TestEnvelopeLenience(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []struct {
		name   string
		body   string
		header http.Header
		wantID string
	}{
		{"params as empty array", `{"method":"getLeads","params":{"where":[]},"id":"x"}`, nil, `"x"`},
		{"empty string id", `{"method":"getLeads","params":{"where":{}},"id":""}`, nil, `""`},
		{"numeric id echoed as number", `{"method":"getLeads","params":{"where":{}},"id":42}`, nil, `42`},
		{"header member ignored", `{"method":"getLeads","params":{"where":{}},"id":"x","header":{"accountID":"nope","secretKey":"nope"}}`, nil, `"x"`},
		{"text/plain accepted", `{"method":"getLeads","params":{"where":{}},"id":"x"}`, http.Header{"Content-Type": {"text/plain"}}, `"x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := h.post(context.Background(), h.url(VersionV12), []byte(tc.body), tc.header)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != 200 || string(r.member("error")) != "null" {
				t.Fatalf("got HTTP %d %s", r.Status, r.Body)
			}
			if got := string(r.member("id")); got != tc.wantID {
				t.Errorf("id = %s, want %s", got, tc.wantID)
			}
		})
	}
}

func TestPathsAndVerbs(t *testing.T) {
	h := newHarness(t, Options{})
	body := string(envelopeBody("getLeads", map[string]any{"where": map[string]any{}}))
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
	}{
		{"v1 with slash", http.MethodPost, "/pubapi/v1/", 200},
		{"v1 without slash", http.MethodPost, "/pubapi/v1", 200},
		{"v1.2 with slash", http.MethodPost, "/pubapi/v1.2/", 200},
		{"v1.2 without slash", http.MethodPost, "/pubapi/v1.2", 200},
		{"unknown version", http.MethodPost, "/pubapi/v2/", 404},
		{"GET", http.MethodGet, "/pubapi/v1.2/", 405},
		{"PUT", http.MethodPut, "/pubapi/v1.2/", 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, h.srv.URL+tc.path+"?accountID=1001&secretKey=sim-secret", strings.NewReader(body))
			res, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.wantStatus)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name       string
		as200      bool
		account    string
		secret     string
		wantStatus int
		wantCode   int
	}{
		{"valid", false, "1001", "sim-secret", 200, 0},
		{"missing account", false, "", "sim-secret", 200, CodeMissingAccountID},
		{"missing secret", false, "1001", "", 200, CodeMissingSecretKey},
		{"missing both", false, "", "", 200, CodeMissingAccountID},
		{"wrong secret", false, "1001", "bad", 401, 0},
		{"unknown account", false, "9999", "sim-secret", 401, 0},
		{"wrong secret as 200", true, "1001", "bad", 200, CodeAuthFailed},
		{"missing secret with toggle", true, "1001", "", 200, CodeMissingSecretKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{AuthErrorAs200: tc.as200})
			body := envelopeBody("getLeads", map[string]any{"where": map[string]any{}})
			r, err := h.post(context.Background(), h.urlWith(VersionV12, tc.account, tc.secret), body, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", r.Status, tc.wantStatus, r.Body)
			}
			if tc.wantStatus == 401 {
				if got := string(r.Body); got != "Unable to determine clusterID from provided accountID/secretKey" {
					t.Errorf("body = %q", got)
				}
				if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="SharpSpring"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
					t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
				}
			} else if r.errCode() != tc.wantCode {
				t.Fatalf("code = %d, want %d (%s)", r.errCode(), tc.wantCode, r.Body)
			}
			if tc.wantCode == CodeAuthFailed {
				var e wireError
				_ = json.Unmarshal(r.member("error"), &e)
				if e.Message != "User authentication failed." || string(e.Data) != "[]" {
					t.Errorf("error = %+v", e)
				}
			}
			st := h.sim.Stats()
			if want := map[bool]int{true: 1, false: 0}[tc.wantCode == 0 && tc.wantStatus == 200]; st.Requests != want {
				t.Errorf("Stats.Requests = %d, want %d (only valid credentials count)", st.Requests, want)
			}
			for _, l := range h.sim.RequestLog() {
				if strings.Contains(l.RequestID+strings.Join(l.Notes, " ")+l.AccountID, "sim-secret") {
					t.Errorf("secret leaked into RequestLog: %+v", l)
				}
			}
		})
	}
}

func TestMultipleAccounts(t *testing.T) {
	h := newHarness(t, Options{Accounts: map[string]string{"1": "one", "2": "two"}, RateLimitPerSecond: 1})
	body := envelopeBody("getLeads", map[string]any{"where": map[string]any{}})
	for _, acct := range []struct{ id, key string }{{"1", "one"}, {"2", "two"}} {
		r, err := h.post(context.Background(), h.urlWith(VersionV12, acct.id, acct.key), body, nil)
		if err != nil || r.Status != 200 || r.errCode() != 0 {
			t.Fatalf("account %s: %v %s", acct.id, err, r.Body)
		}
	}
	// The default account is not configured any more.
	r, _ := h.post(context.Background(), h.url(VersionV12), body, nil)
	if r.Status != 401 {
		t.Fatalf("default account: status %d", r.Status)
	}
	// Limits are per account: a second request of account 1 is over.
	r, _ = h.post(context.Background(), h.urlWith(VersionV12, "1", "one"), body, nil)
	if r.errCode() != CodeSecondLimit {
		t.Fatalf("second request of account 1: %s", r.Body)
	}
}

func TestExpectRule(t *testing.T) {
	long := strings.Repeat("x", 1100)
	tests := []struct {
		name       string
		rule       bool
		expect     string
		desc       string
		wantStatus int
	}{
		{"long with expect", true, "100-continue", long, 502},
		{"short with expect", true, "100-continue", "short", 200},
		{"long without expect", true, "", long, 200},
		{"rule off", false, "100-continue", long, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{ExpectRule: tc.rule})
			hdr := http.Header{}
			if tc.expect != "" {
				hdr.Set("Expect", tc.expect)
			}
			body := envelopeBody("createLeads", objs(map[string]any{"emailAddress": "e@x.test", "description": tc.desc}))
			r, err := h.post(context.Background(), h.url(VersionV12), body, hdr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.wantStatus {
				t.Fatalf("status = %d, want %d", r.Status, tc.wantStatus)
			}
			_, created := h.sim.LeadByEmail("e@x.test")
			if created != (tc.wantStatus == 200) {
				t.Errorf("lead created = %v", created)
			}
			if tc.wantStatus == 502 && !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
			}
		})
	}
}
