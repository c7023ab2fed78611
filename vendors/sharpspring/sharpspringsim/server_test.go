package sharpspringsim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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
		{"rule off (NoExpectRule)", false, "100-continue", long, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{NoExpectRule: !tc.rule})
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

func TestConcurrentClients(t *testing.T) {
	h := newHarness(t, Options{})
	const workers, each = 8, 15
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				body := envelopeBody("createLeads", objs(map[string]any{"emailAddress": fmt.Sprintf("w%d-%d@x.test", w, i)}))
				r, err := h.post(context.Background(), h.url(VersionV12), body, nil)
				if err == nil && !r.results("creates")[0].Success {
					err = fmt.Errorf("create failed: %s", r.Body)
				}
				if err == nil {
					_, err = h.post(context.Background(), h.url(VersionV12), envelopeBody("getLeads", map[string]any{"where": map[string]any{}}), nil)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	leads := h.sim.Leads()
	if len(leads) != workers*each {
		t.Fatalf("stored %d leads", len(leads))
	}
	for i := 1; i < len(leads); i++ {
		if leads[i].ID != leads[i-1].ID+1 {
			t.Fatalf("ids not dense: %d after %d", leads[i].ID, leads[i-1].ID)
		}
	}
	if st := h.sim.Stats(); st.Requests != 2*workers*each || st.ObjectsWritten != workers*each {
		t.Errorf("stats %+v", st)
	}
}

// FuzzServeHTTP feeds arbitrary bodies to every method: the simulator must
// never panic and must always answer one JSON envelope.
func FuzzServeHTTP(f *testing.F) {
	f.Add("createLeads", `{"objects":[{"emailAddress":"a@x","leadScore":"1e2","ownerID":null}]}`)
	f.Add("updateLeads", `{"objects":[{"id":"88038560770","emailAddress":"b@x"},3,[]]}`)
	f.Add("getLeads", `{"where":{"id":[1,"2"],"emailAddress":"x"},"limit":"9","offset":1,"fields":["id"]}`)
	f.Add("getLeadsDateRange", `{"startDate":"2026-01-01 00:00:00","endDate":1,"timestamp":"update"}`)
	f.Add("createFields", `{"objects":[{"relationship":"lead","label":"é ü","dataType":"text"}]}`)
	f.Add("deleteFields", `{"objects":[{"systemName":"firstName"}]}`)
	f.Add("getFields", `{"where":[]}`)
	f.Fuzz(func(t *testing.T, method, params string) {
		sim := New(Options{RateLimitPerSecond: -1})
		sim.SeedLead(map[string]string{"emailAddress": "a@x"})
		body := `{"method":` + string(quote(method)) + `,"params":` + params + `,"id":1}`
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/pubapi/v1.2/?accountID=1001&secretKey=sim-secret", strings.NewReader(body))
		sim.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("HTTP %d", rec.Code)
		}
		var env map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatalf("answer is not JSON: %v: %s", err, rec.Body)
		}
		for _, k := range []string{"result", "error", "id"} {
			if _, ok := env[k]; !ok {
				t.Fatalf("answer lacks %q: %s", k, rec.Body)
			}
		}
	})
}
