package getleadsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit/simtest"
)

func newSim(t *testing.T, opts Options) (*Server, *httptest.Server, *simtest.Clock) {
	t.Helper()
	clk := simtest.NewClock(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	sim := New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv, clk
}

type answer struct {
	HTTP    int
	Status  string `json:"status"`
	Message string `json:"message"`
}

// classic sends one classic request: params split over query, form and
// JSON as the test says.
func classic(t *testing.T, srv *httptest.Server, endpoint string, query, form url.Values, jsonBody map[string]any) answer {
	t.Helper()
	u := srv.URL + "/api/" + endpoint
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	ct := ""
	switch {
	case form != nil:
		body, ct = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	case jsonBody != nil:
		b, _ := json.Marshal(jsonBody)
		body, ct = strings.NewReader(string(b)), "application/json"
	}
	req, _ := http.NewRequest(http.MethodPost, u, body)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	a.HTTP = resp.StatusCode
	return a
}

func TestClassicCreateParamsFromEveryPlace(t *testing.T) {
	cases := []struct {
		name  string
		query url.Values
		form  url.Values
		json  map[string]any
	}{
		{"query only (GET style)", url.Values{"token": {DefaultToken}, "countrycode": {"91"}, "mobileno": {"9876543210"}, "source": {"web"}, "name": {"Asha"}}, nil, nil},
		{"form", nil, url.Values{"token": {DefaultToken}, "countrycode": {"91"}, "mobileno": {"9876543210"}, "source": {"web"}, "name": {"Asha"}}, nil},
		{"json body with +countrycode and a number", nil, nil, map[string]any{"token": DefaultToken, "countrycode": "+91", "mobileno": 9876543210, "source": "web", "name": "Asha"}},
		{"token in query, rest in json", url.Values{"token": {DefaultToken}}, nil, map[string]any{"countrycode": "91", "mobileno": "+91 98765 43210", "source": "web", "name": "Asha"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, _ := newSim(t, Options{})
			a := classic(t, srv, "gl-website-contacts", tc.query, tc.form, tc.json)
			if a.HTTP != 200 || a.Status != "success" || a.Message != MsgLeadAdded {
				t.Fatalf("answer %+v", a)
			}
			l, found := sim.LeadByPhone("+919876543210")
			if !found || l.Name != "Asha" || l.Source != "web" {
				t.Fatalf("lead %+v found=%v", l, found)
			}
		})
	}
}

func TestClassicCreateFailures(t *testing.T) {
	base := func() url.Values {
		return url.Values{"token": {DefaultToken}, "countrycode": {"91"}, "mobileno": {"9876543210"}, "source": {"web"}}
	}
	cases := []struct {
		name   string
		mutate func(url.Values)
		http   int
		status string
		msg    string
	}{
		{"short mobile", func(v url.Values) { v.Set("mobileno", "98765") }, 200, "fail", MsgMobileLength},
		{"long mobile", func(v url.Values) { v.Set("mobileno", "123456789012345") }, 200, "fail", MsgMobileLength},
		{"no source", func(v url.Values) { v.Del("source") }, 200, "fail", MsgCheckParams},
		{"no countrycode", func(v url.Values) { v.Del("countrycode") }, 200, "fail", MsgCheckParams},
		{"no token", func(v url.Values) { v.Del("token") }, 200, "fail", MsgCheckParams},
		{"unknown status", func(v url.Values) { v.Set("status", "Bogus") }, 200, "fail", MsgCheckParams},
		{"wrong token", func(v url.Values) { v.Set("token", "gl_other") }, 200, "error", MsgInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, _ := newSim(t, Options{})
			v := base()
			tc.mutate(v)
			a := classic(t, srv, "gl-website-contacts", nil, v, nil)
			if a.HTTP != tc.http || a.Status != tc.status || a.Message != tc.msg {
				t.Fatalf("answer %+v, want %d %s %q", a, tc.http, tc.status, tc.msg)
			}
			if n := len(sim.Leads()); n != 0 {
				t.Fatalf("%d leads stored by a failed create", n)
			}
		})
	}
}

func TestClassicUpsertByNormalisedPhoneAndAdditionalFields(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	for i, mobile := range []string{"+91 98765 43210", "919876543210", "09876543210"} {
		v := url.Values{"token": {DefaultToken}, "countrycode": {"91"}, "mobileno": {mobile}, "source": {"web"},
			"name": {"Asha " + string(rune('A'+i))}, "Referred By": {"Ravi"}}
		if i == 2 {
			v.Set("City", "Kochi")
		}
		if a := classic(t, srv, "gl-website-contacts", nil, v, nil); a.Status != "success" || a.Message != MsgLeadAdded {
			t.Fatalf("%s: %+v", mobile, a)
		}
	}
	leads := sim.Leads()
	if len(leads) != 1 {
		t.Fatalf("%d leads, want one", len(leads))
	}
	l := leads[0]
	if l.Name != "Asha C" || l.Custom["Referred By"] != "Ravi" || l.Custom["City"] != "Kochi" {
		t.Fatalf("lead %+v", l)
	}
	if got := sim.Fields(); len(got) != 2 {
		t.Fatalf("fields %v", got)
	}
}

func TestClassicFollowUps(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	sim.SeedLead(LeadSeed{Name: "Asha", Email: "asha@example.com", Phones: []string{"+919876543210"}})
	tok := url.Values{"token": {DefaultToken}}
	cases := []struct {
		name     string
		endpoint string
		params   map[string]any
		status   string
		msg      string
	}{
		{"status change", "gl-status-change-api", map[string]any{"status": "Qualified", "countrycode": "91", "mobile_no": "9876543210"}, "success", MsgNoteAdded},
		{"status unknown lead", "gl-status-change-api", map[string]any{"status": "Qualified", "countrycode": "91", "mobile_no": "9999999999"}, "error", MsgNotFound},
		{"status missing", "gl-status-change-api", map[string]any{"countrycode": "91", "mobile_no": "9876543210"}, "error", MsgCheckParams},
		{"note", "gl-note-creation-api", map[string]any{"note": "called", "countrycode": "91", "mobile_no": "09876543210"}, "success", MsgNoteAdded},
		{"note by email fallback", "gl-note-creation-api", map[string]any{"note": "mail", "countrycode": "91", "mobile_no": "9999999999", "email": "ASHA@example.com"}, "success", MsgNoteAdded},
		{"note unknown lead", "gl-note-creation-api", map[string]any{"note": "x", "countrycode": "91", "mobile_no": "9999999999"}, "error", MsgNotFound},
		{"task", "gl-task-creation-api", map[string]any{"name": "Call", "task_category_id": "2", "countrycode": "91", "mobile_no": "9876543210"}, "success", MsgTaskAdded},
		{"task bad category", "gl-task-creation-api", map[string]any{"name": "Call", "task_category_id": "9"}, "error", MsgCheckParams},
		{"deal", "gl-deal-creation-api", map[string]any{"mobile": "9876543210", "status": "open", "deal name": "Big", "deal_amount": 5000}, "success", MsgTaskAdded},
		{"deal bad amount", "gl-deal-creation-api", map[string]any{"mobile": "9876543210", "status": "open", "deal_amount": "lots"}, "error", MsgCheckParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := classic(t, srv, tc.endpoint, tok, nil, tc.params)
			if a.Status != tc.status || a.Message != tc.msg {
				t.Fatalf("answer %+v, want %s %q", a, tc.status, tc.msg)
			}
		})
	}
	l, _ := sim.LeadByPhone("+919876543210")
	if l.Status != "Qualified" || len(l.Notes) != 2 || l.Notes[0] != "called" {
		t.Fatalf("lead %+v", l)
	}
	if tasks, deals, _ := sim.Counts(); tasks != 1 || deals != 1 {
		t.Fatalf("tasks %d deals %d", tasks, deals)
	}
	a := classic(t, srv, "gl-department-vise-agent-assign/"+DefaultToken, url.Values{"SourceNumber": {"4234"}, "department": {"Sales"}}, nil, nil)
	if a.Status != "success" || a.Message != MsgDepartmentDone {
		t.Fatalf("department: %+v", a)
	}
	st := sim.Stats()
	if st.Messages[MsgNotFound] != 2 || st.Classic["error"] != 5 || st.NotesAdded != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// v3 sends one V3 request and decodes the JSON answer (nil for 204).
func v3(t *testing.T, srv *httptest.Server, method, path string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	r := mustSend(t, srv, method, path, body)
	var out map[string]any
	if len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, r.Body)
		}
	}
	return r.Status, r.Header, out
}

// listNames pages through a V3 lead list from path, following links.next,
// which must carry meta.next_cursor, and returns the leads' names in
// order. More than maxPages pages fails the test.
func listNames(t *testing.T, srv *httptest.Server, path string, maxPages int) []string {
	t.Helper()
	var names []string
	for pages := 0; path != ""; pages++ {
		if pages > maxPages {
			t.Fatal("pagination does not end")
		}
		code, _, out := v3(t, srv, "GET", path, nil)
		if code != 200 {
			t.Fatalf("%d %v", code, out)
		}
		for _, d := range out["data"].([]any) {
			names = append(names, d.(map[string]any)["name"].(string))
		}
		path = ""
		if c, _ := out["meta"].(map[string]any)["next_cursor"].(string); c != "" {
			next, _ := url.Parse(out["links"].(map[string]any)["next"].(string))
			if next.Query().Get("cursor") != c {
				t.Fatalf("links.next %v does not carry the cursor", next)
			}
			path = "/leads?" + next.RawQuery
		}
	}
	return names
}

func TestV3PatchReplacesCustomFields(t *testing.T) {
	sim, srv, _ := newSim(t, Options{CustomFields: []string{"budget", "city", "colour"}})
	code, _, out := v3(t, srv, "POST", "/leads", map[string]any{"name": "Asha", "phone_numbers": []string{"+919876543210"},
		"custom_fields": map[string]any{"budget": "10", "city": "Kochi"}})
	if code != 201 {
		t.Fatalf("create %d %v", code, out)
	}
	id := out["data"].(map[string]any)["lead_id"].(string)
	if code, _, _ := v3(t, srv, "PATCH", "/leads/"+id, map[string]any{"custom_fields": map[string]any{"colour": "teal"}}); code != 204 {
		t.Fatalf("patch %d", code)
	}
	l, _ := sim.LeadByPhone("+919876543210")
	if len(l.Custom) != 1 || l.Custom["colour"] != "teal" {
		t.Fatalf("custom after PATCH = %v, want only colour (replace, not merge)", l.Custom)
	}
	code, _, out = v3(t, srv, "PATCH", "/leads/by-identifier", map[string]any{"phone_number": "+919876543210", "name": "Asha R"})
	if code != 200 || out["data"].(map[string]any)["lead_id"] != id {
		t.Fatalf("by-identifier %d %v", code, out)
	}
	if l, _ := sim.LeadByPhone("+919876543210"); l.Name != "Asha R" || l.Custom["colour"] != "teal" {
		t.Fatalf("a PATCH without custom_fields must leave them: %+v", l)
	}
	cases := []struct {
		name string
		body map[string]any
		code int
	}{
		{"no match", map[string]any{"phone_number": "+919999999999", "name": "x"}, 404},
		{"unknown field", map[string]any{"phone_number": "+919876543210", "custom_fields": map[string]any{"nope": "1"}}, 422},
		{"bad status", map[string]any{"phone_number": "+919876543210", "status_id": 99}, 422},
		{"no identifier", map[string]any{"name": "x"}, 422},
		{"email identifier", map[string]any{"email": "none@example.com"}, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, out := v3(t, srv, "PATCH", "/leads/by-identifier", tc.body); code != tc.code {
				t.Fatalf("got %d %v, want %d", code, out, tc.code)
			}
		})
	}
	if code, _, _ := v3(t, srv, "POST", "/leads", map[string]any{"phone_numbers": []string{"+919876543210"}}); code != 409 {
		t.Fatalf("duplicate create = %d", code)
	}
}

func TestV3CursorPaginationWithWatermark(t *testing.T) {
	sim, srv, clk := newSim(t, Options{})
	for i := range 7 {
		sim.SeedLead(LeadSeed{Name: "L" + string(rune('0'+i)), Phones: []string{"+91987654321" + string(rune('0'+i))}, CreatedAt: clk.Now().Add(time.Duration(i/2) * time.Minute)})
	}
	from := clk.Now().Add(time.Minute).Format(time.RFC3339)
	names := listNames(t, srv, "/leads?sort_by=created_at&sort_direction=asc&per_page=2&"+url.Values{"created_at[from]": {from}}.Encode(), 5)
	if got := strings.Join(names, ","); got != "L2,L3,L4,L5,L6" {
		t.Fatalf("pages gave %s", got)
	}
}

func TestV3RateLimitAndFaults(t *testing.T) {
	sim, srv, clk := newSim(t, Options{V3RateLimit: 2, V3RateWindow: 10 * time.Second})
	for range 2 {
		if code, _, _ := v3(t, srv, "GET", "/meta", nil); code != 200 {
			t.Fatalf("meta %d", code)
		}
	}
	code, hdr, out := v3(t, srv, "GET", "/meta", nil)
	if code != 429 || out["retry_after"].(float64) != 10 || hdr.Get("Retry-After") != "10" {
		t.Fatalf("429: %d %v %v", code, out, hdr)
	}
	clk.Add(10 * time.Second)
	sim.Script("meta", Fault429, Fault500)
	if code, _, out := v3(t, srv, "GET", "/meta", nil); code != 429 || out["retry_after"].(float64) != ScriptedRetryAfter {
		t.Fatalf("scripted 429: %d %v", code, out)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/meta", nil)
	req.Header.Set("Authorization", "Bearer "+DefaultAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 500 {
		t.Fatalf("scripted 500: %v %v", resp, err)
	}
	resp.Body.Close()
	st := sim.Stats()
	if st.RateLimited != 2 || st.HTTPStatus[500] != 1 || st.ByEndpoint["meta"] != 4 {
		t.Fatalf("stats %+v", st)
	}
	req, _ = http.NewRequest("GET", srv.URL+"/api/v1/meta", nil)
	req.Header.Set("Authorization", "Bearer ik_wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("wrong key: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestDropAfterCommitApplies(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	sim.Script("gl-note-creation-api", FaultDropAfterCommit)
	sim.SeedLead(LeadSeed{Phones: []string{"+919876543210"}})
	v := url.Values{"token": {DefaultToken}, "note": {"n"}, "countrycode": {"91"}, "mobile_no": {"9876543210"}}
	resp, err := http.PostForm(srv.URL+"/api/gl-note-creation-api", v)
	if err == nil {
		resp.Body.Close()
		t.Fatal("want a dropped connection")
	}
	if l, _ := sim.LeadByPhone("+919876543210"); len(l.Notes) != 1 || sim.Stats().Dropped != 1 {
		t.Fatalf("note not applied before the drop: %+v", l)
	}
}
