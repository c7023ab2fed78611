package ivvysim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/ivvy"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// signed builds a correctly signed request; mod may spoil it afterwards.
func signed(t *testing.T, action, body string, at time.Time, mod func(r *http.Request)) *http.Request {
	t.Helper()
	ns, a, _ := strings.Cut(action, ".")
	uri := "/api/1.0/" + ns + "?action=" + a
	r := httptest.NewRequest(http.MethodPost, uri, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Content-MD5", ivvy.ContentMD5([]byte(body)))
	r.Header.Set("IVVY-Date", at.UTC().Format(ivvy.TimeLayout))
	sts := ivvy.StringToSign(ivvy.SigningInput{Method: "POST", ContentMD5: r.Header.Get("Content-MD5"),
		ContentType: "application/json", RequestURI: uri, Headers: r.Header})
	r.Header.Set("X-Api-Authorization", "IWS "+ivvysim.DefaultKey+":"+ivvy.Signature(ivvysim.DefaultSecret, sts))
	if mod != nil {
		mod(r)
	}
	return r
}

type answer struct {
	status int
	body   map[string]any
}

func do(t *testing.T, sim *ivvysim.Server, r *http.Request) answer {
	t.Helper()
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, r)
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return answer{w.Code, m}
}

func (a answer) specific() int {
	f, _ := a.body["specificCode"].(float64)
	return int(f)
}

func TestSignatureVerification(t *testing.T) {
	cases := []struct {
		name     string
		at       time.Time
		mod      func(r *http.Request)
		status   int
		specific int
	}{
		{"valid", t0, nil, 200, 0},
		{"valid at the edge of the window", t0.Add(-5 * time.Minute), nil, 200, 0},
		{"stale", t0.Add(-5*time.Minute - time.Second), nil, 401, ivvysim.CodeStale},
		{"from the future", t0.Add(6 * time.Minute), nil, 401, ivvysim.CodeStale},
		{"wrong md5", t0, func(r *http.Request) { r.Header.Set("Content-MD5", ivvy.ContentMD5([]byte("other"))) }, 401, ivvysim.CodeBadContentMD5},
		{"wrong signature", t0, func(r *http.Request) {
			r.Header.Set("X-Api-Authorization", "IWS "+ivvysim.DefaultKey+":"+strings.Repeat("0", 40))
		}, 401, ivvysim.CodeBadSignature},
		{"content type changed after signing", t0, func(r *http.Request) { r.Header.Set("Content-Type", "application/json; charset=utf-8") }, 401, ivvysim.CodeBadSignature},
		{"date changed after signing", t0, func(r *http.Request) { r.Header.Set("IVVY-Date", t0.Add(time.Second).Format(ivvy.TimeLayout)) }, 401, ivvysim.CodeBadSignature},
		{"no authorization", t0, func(r *http.Request) { r.Header.Del("X-Api-Authorization") }, 401, ivvysim.CodeAuthMissing},
		{"unknown key", t0, func(r *http.Request) {
			r.Header.Set("X-Api-Authorization", strings.Replace(r.Header.Get("X-Api-Authorization"), ivvysim.DefaultKey, "other", 1))
		}, 401, ivvysim.CodeUnknownKey},
		{"no date", t0, func(r *http.Request) { r.Header.Del("IVVY-Date") }, 401, ivvysim.CodeMissingDate},
		{"IVVY-Date with UTC suffix is signed as sent", t0, func(r *http.Request) {
			r.Header.Set("IVVY-Date", t0.Format(ivvy.TimeLayout)+" UTC")
			resign(r)
		}, 200, 0},
		{"Date header instead of IVVY-Date", t0, func(r *http.Request) {
			r.Header.Del("IVVY-Date")
			r.Header.Set("Date", t0.Format("Mon, 02 Jan 2006 15:04:05")+" UTC")
			resign(r)
		}, 200, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim := ivvysim.New(ivvysim.Options{Now: func() time.Time { return t0 }})
			a := do(t, sim, signed(t, "test.ping", `{"example":"body"}`, tc.at, tc.mod))
			if a.status != tc.status || a.specific() != tc.specific {
				t.Fatalf("got %d/%d %v, want %d/%d", a.status, a.specific(), a.body, tc.status, tc.specific)
			}
			if tc.status == 401 && a.body["errorCode"] != float64(401) {
				t.Fatalf("error body %v", a.body)
			}
		})
	}
}

// resign recomputes the signature over the request's current headers.
func resign(r *http.Request) {
	sts := ivvy.StringToSign(ivvy.SigningInput{Method: "POST", ContentMD5: r.Header.Get("Content-MD5"),
		ContentType: r.Header.Get("Content-Type"), Date: r.Header.Get("Date"), RequestURI: r.RequestURI, Headers: r.Header})
	r.Header.Set("X-Api-Authorization", "IWS "+ivvysim.DefaultKey+":"+ivvy.Signature(ivvysim.DefaultSecret, sts))
}

func TestRoutingErrors(t *testing.T) {
	sim := ivvysim.New(ivvysim.Options{Now: func() time.Time { return t0 }})
	if a := do(t, sim, signed(t, "nope.ping", `{}`, t0, nil)); a.status != 404 {
		t.Fatalf("unknown namespace: %d", a.status)
	}
	r := signed(t, "test.ping", ``, t0, nil)
	r.Method = http.MethodGet
	if a := do(t, sim, r); a.status != 405 || a.body["errorCode"] != float64(405) {
		t.Fatalf("GET: %d %v", a.status, a.body)
	}
}

// api is a small signed caller for table tests.
type api struct {
	t   *testing.T
	sim *ivvysim.Server
	now func() time.Time
}

func newAPI(t *testing.T, opts ivvysim.Options) *api {
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	return &api{t: t, sim: ivvysim.New(opts), now: opts.Now}
}

func (a *api) call(action string, params any) answer {
	a.t.Helper()
	b, _ := json.Marshal(params)
	return do(a.t, a.sim, signed(a.t, action, string(b), a.now(), nil))
}

func contactLead(mod func(m map[string]any)) map[string]any {
	m := map[string]any{"name": "Lead", "sourceId": 1, "typeId": 1, "stageId": 1, "qualityId": 1, "industryId": 1,
		"contact": map[string]any{"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"}}
	if mod != nil {
		mod(m)
	}
	return m
}

func TestLeadCreateRules(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(a *api) map[string]any
		specific int // 0 = success
		mention  string
	}{
		{"contact lead with inline contact", func(*api) map[string]any { return contactLead(nil) }, 0, ""},
		{"empty request", func(*api) map[string]any { return map[string]any{} }, ivvysim.CodeLeadEmpty, ""},
		{"name missing", func(*api) map[string]any { return contactLead(func(m map[string]any) { delete(m, "name") }) }, ivvysim.CodeMissingParameter, "'name'"},
		{"quality missing", func(*api) map[string]any { return contactLead(func(m map[string]any) { delete(m, "qualityId") }) }, ivvysim.CodeMissingParameter, "'qualityId'"},
		{"contact lead without industry", func(*api) map[string]any { return contactLead(func(m map[string]any) { delete(m, "industryId") }) }, ivvysim.CodeMissingParameter, "'industryId'"},
		{"contact lead without contact", func(*api) map[string]any { return contactLead(func(m map[string]any) { delete(m, "contact") }) }, ivvysim.CodeMissingParameter, "'contactId'"},
		{"type with subtypes needs subtypeId", func(*api) map[string]any { return contactLead(func(m map[string]any) { m["typeId"] = 2 }) }, ivvysim.CodeMissingParameter, "'subtypeId'"},
		{"subtype of another type", func(*api) map[string]any {
			return contactLead(func(m map[string]any) { m["typeId"], m["subtypeId"] = 2, 99 })
		}, ivvysim.CodeLeadInvalid, ""},
		{"unknown stage", func(*api) map[string]any { return contactLead(func(m map[string]any) { m["stageId"] = 42 }) }, ivvysim.CodeLeadInvalid, ""},
		{"inline contact without email", func(*api) map[string]any {
			return contactLead(func(m map[string]any) { m["contact"] = map[string]any{"firstName": "A", "lastName": "B"} })
		}, ivvysim.CodeMissingParameter, "'contact.email'"},
		{"company lead needs no industry", func(*api) map[string]any {
			return contactLead(func(m map[string]any) {
				delete(m, "industryId")
				m["company"] = map[string]any{"businessName": "Acme"}
			})
		}, 0, ""},
		{"company lead without contact", func(*api) map[string]any {
			return contactLead(func(m map[string]any) { delete(m, "contact"); m["company"] = map[string]any{"businessName": "Acme"} })
		}, ivvysim.CodeMissingParameter, "'companyLeadContactId'"},
		{"company lead with a contact of another company", func(a *api) map[string]any {
			co := a.call("contact.addOrUpdateCompany", map[string]any{"businessName": "Acme"}).body["id"]
			ct := a.sim.SeedContact(ivvysim.Contact{FirstName: "X", LastName: "Y", Email: "x@y.co"})
			return contactLead(func(m map[string]any) { delete(m, "contact"); m["companyId"] = co; m["companyLeadContactId"] = ct })
		}, ivvysim.CodeLeadInvalid, ""},
		{"lead custom fields use fieldValue", func(*api) map[string]any {
			return contactLead(func(m map[string]any) { m["customFields"] = []any{map[string]any{"fieldId": 7, "fieldValue": "x"}} })
		}, 0, ""},
		{"lead custom fields refuse value", func(*api) map[string]any {
			return contactLead(func(m map[string]any) { m["customFields"] = []any{map[string]any{"fieldId": 7, "value": "x"}} })
		}, ivvysim.CodeInvalidParameter, ""},
		{"contact custom fields refuse fieldValue", func(*api) map[string]any {
			return contactLead(func(m map[string]any) {
				m["contact"].(map[string]any)["customFields"] = []any{map[string]any{"fieldId": 201, "fieldValue": "x"}}
			})
		}, ivvysim.CodeInvalidParameter, ""},
		{"unknown keys are ignored", func(*api) map[string]any {
			return contactLead(func(m map[string]any) { m["stageName"], m["venueId"] = "New", 3 })
		}, 0, ""},
		{"update of unknown id", func(*api) map[string]any { return map[string]any{"id": 424242, "description": "x"} }, ivvysim.CodeLeadNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPI(t, ivvysim.Options{})
			before := len(a.sim.Leads())
			res := a.call("contact.addOrUpdateLead", tc.setup(a))
			if tc.specific == 0 {
				if res.status != 200 || res.body["success"] != true || res.body["id"] == nil {
					t.Fatalf("%d %v", res.status, res.body)
				}
				return
			}
			if res.specific() != tc.specific || res.status != int(res.body["errorCode"].(float64)) {
				t.Fatalf("got %d/%d %v, want %d", res.status, res.specific(), res.body, tc.specific)
			}
			if !strings.Contains(res.body["message"].(string), tc.mention) {
				t.Fatalf("message %q does not name %s", res.body["message"], tc.mention)
			}
			if len(a.sim.Leads()) != before || len(a.sim.Contacts()) > 1 {
				t.Fatal("a refused request stored something")
			}
		})
	}
}

func TestListPagingAndFilters(t *testing.T) {
	clk := t0
	a := newAPI(t, ivvysim.Options{PerPageCap: 3, Now: func() time.Time { return clk }, LeadFilters: ivvysim.LeadFiltersHonoured})
	for i, name := range []string{"Alpha", "Beta", "Gamma", "Delta", "Epsilon"} {
		clk = t0.Add(time.Duration(i) * time.Minute)
		r := a.call("contact.addOrUpdateLead", contactLead(func(m map[string]any) {
			m["name"] = name
			m["contact"] = map[string]any{"firstName": name, "lastName": "L", "email": strings.ToLower(name) + "@example.com"}
		}))
		if r.status != 200 {
			t.Fatal(r.body)
		}
	}
	t.Run("perPage is clamped and meta reports it", func(t *testing.T) {
		r := a.call("crm.getLeadList", map[string]any{"perPage": 50, "start": 3})
		meta := r.body["meta"].(map[string]any)
		if meta["totalResults"] != float64(5) || meta["perPage"] != float64(3) || meta["count"] != float64(2) || meta["start"] != float64(3) {
			t.Fatalf("meta %v", meta)
		}
	})
	cases := []struct {
		name   string
		filter map[string]any
		want   []string
	}{
		{"equals, case-insensitive", map[string]any{"name": "beta"}, []string{"Beta"}},
		{"contains", map[string]any{"name__CONTAINS": "ta"}, []string{"Beta", "Delta"}},
		{"not contains", map[string]any{"name__NOTCONTAINS": "a"}, []string{"Epsilon"}},
		{"begins", map[string]any{"name__BEGINS": "ga"}, []string{"Gamma"}},
		{"ends", map[string]any{"name__ENDS": "on"}, []string{"Epsilon"}},
		{"greater than is inclusive", map[string]any{"modifiedDate__GREATERTHAN": "2026-05-01 12:03:00"}, []string{"Delta", "Epsilon"}},
		{"less than is inclusive", map[string]any{"modifiedDate__LESSTHAN": "2026-05-01 12:01:00 UTC"}, []string{"Alpha", "Beta"}},
		{"not", map[string]any{"name__NOT": "Alpha", "id__LESSTHAN": 5003}, []string{"Beta", "Gamma"}},
		{"empty", map[string]any{"channelId__EMPTY": true, "name": "Alpha"}, []string{"Alpha"}},
		{"isnull", map[string]any{"company": "__ISNULL__", "name__BEGINS": "E"}, []string{"Epsilon"}},
		{"numeric compare", map[string]any{"id__GREATERTHAN": "5004"}, []string{"Delta", "Epsilon"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := a.call("crm.getLeadList", map[string]any{"perPage": 3, "filter": tc.filter})
			var got []string
			for _, it := range r.body["results"].([]any) {
				got = append(got, it.(map[string]any)["name"].(string))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v want %v (%v)", got, tc.want, r.body)
			}
		})
	}
	t.Run("contacts by fromModifiedDate and externalId", func(t *testing.T) {
		a.sim.EditContact(a.sim.Contacts()[0].ID, func(c *ivvysim.Contact) { c.ExternalID = "ext-1" })
		r := a.call("contact.getContactList", map[string]any{"filter": map[string]any{"fromModifiedDate": "2026-05-01 12:04:00"}})
		if r.body["meta"].(map[string]any)["totalResults"] != float64(2) {
			t.Fatalf("%v", r.body)
		}
		r = a.call("contact.getContactList", map[string]any{"filter": map[string]any{"externalId": "ext-1"}})
		if res := r.body["results"].([]any); len(res) != 1 || res[0].(map[string]any)["firstName"] != "Alpha" {
			t.Fatalf("%v", r.body)
		}
	})
	t.Run("lead filters refused by default", func(t *testing.T) {
		b := newAPI(t, ivvysim.Options{})
		b.call("contact.addOrUpdateLead", contactLead(nil))
		r := b.call("crm.getLeadList", map[string]any{"filter": map[string]any{"modifiedDate__GREATERTHAN": "2026-05-01 12:00:00"}})
		more, _ := r.body["additionalMessages"].([]any)
		if r.status != http.StatusBadRequest || r.body["specificCode"] != float64(ivvysim.CodeInvalidParameter) ||
			len(more) != 1 || !strings.Contains(fmt.Sprint(more[0]), "modifiedDate__GREATERTHAN") {
			t.Fatalf("filtered lead list: %d %v, want 400/23016 naming the filter", r.status, r.body)
		}
		r = b.call("crm.getLeadList", map[string]any{"perPage": 10, "filter": map[string]any{}})
		if r.status != http.StatusOK || r.body["meta"].(map[string]any)["totalResults"] != float64(1) {
			t.Fatalf("unfiltered lead list: %d %v", r.status, r.body)
		}
	})
	t.Run("ignored lead filters", func(t *testing.T) {
		b := newAPI(t, ivvysim.Options{IgnoreLeadFilters: true})
		b.call("contact.addOrUpdateLead", contactLead(nil))
		b.call("contact.addOrUpdateLead", contactLead(func(m map[string]any) { m["name"] = "Other" }))
		r := b.call("crm.getLeadList", map[string]any{"filter": map[string]any{"name": "Other"}})
		if r.body["meta"].(map[string]any)["totalResults"] != float64(2) {
			t.Fatalf("%v", r.body)
		}
	})
}

func TestUpdateIfExistsDoesNotDuplicateContacts(t *testing.T) {
	a := newAPI(t, ivvysim.Options{})
	c := map[string]any{"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", "updateIfExists": true}
	id1 := a.call("contact.addOrUpdateContact", c).body["id"]
	c["phone"] = "555"
	id2 := a.call("contact.addOrUpdateContact", c).body["id"]
	delete(c, "updateIfExists")
	id3 := a.call("contact.addOrUpdateContact", c).body["id"]
	if id1 != id2 || id3 == id1 || len(a.sim.Contacts()) != 2 {
		t.Fatalf("ids %v %v %v", id1, id2, id3)
	}
}

func TestRateLimitAndStats(t *testing.T) {
	clk := t0
	a := newAPI(t, ivvysim.Options{RateLimitPerSecond: 3, Now: func() time.Time { return clk }})
	var codes []int
	for range 5 {
		codes = append(codes, a.call("test.ping", nil).status)
	}
	clk = clk.Add(time.Second)
	codes = append(codes, a.call("test.ping", nil).status)
	if got := codes; got[2] != 200 || got[3] != 429 || got[4] != 429 || got[5] != 200 {
		t.Fatalf("statuses %v", got)
	}
	st := a.sim.Stats()
	if st.Requests != 6 || st.HTTPErrors[429] != 2 || st.ByAction["test.ping"] != 6 || st.MaxPerSecond < 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBatchLimitsAndCallback(t *testing.T) {
	got := make(chan []byte, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		buf.ReadFrom(r.Body)
		got <- buf.Bytes()
	}))
	defer cb.Close()
	a := newAPI(t, ivvysim.Options{})
	defer a.sim.Close()
	jobs := make([]any, 201)
	for i := range jobs {
		jobs[i] = map[string]any{"namespace": "test", "action": "ping", "params": map[string]any{}}
	}
	if r := a.call("batch.run", map[string]any{"jobs": jobs}); r.specific() != ivvysim.CodeBatchTooManyJobs {
		t.Fatalf("201 jobs: %v", r.body)
	}
	if r := a.call("batch.run", map[string]any{"jobs": []any{map[string]any{"namespace": "test"}}}); r.specific() != ivvysim.CodeBatchBadJob {
		t.Fatalf("bad job: %v", r.body)
	}
	if r := a.call("batch.run", map[string]any{"jobs": []any{map[string]any{"namespace": "test", "action": "ping"}}}); r.specific() != ivvysim.CodeBatchEmptyParams {
		t.Fatalf("empty params: %v", r.body)
	}
	if r := a.call("batch.progress", map[string]any{"async": "nope"}); r.specific() != ivvysim.CodeBatchNotFound {
		t.Fatalf("unknown batch: %v", r.body)
	}
	r := a.call("batch.run", map[string]any{"jobs": []any{map[string]any{"namespace": "contact", "action": "addOrUpdateLead", "params": contactLead(nil)}},
		"callbackUrl": cb.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case b := <-got:
		if !strings.Contains(string(b), r.body["asyncId"].(string)) || !strings.Contains(string(b), `"success":true`) {
			t.Fatalf("callback %s", b)
		}
	case <-ctx.Done():
		t.Fatal("no callback")
	}
}
