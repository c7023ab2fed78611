package getlead_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/getlead"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
)

const (
	token = "gl_test_secret_token"
	key   = "ik_test_secret_key"
)

func setup(t *testing.T, opts getleadsim.Options) (*getlead.Classic, *getlead.V3, *getleadsim.Server, *httptest.Server) {
	t.Helper()
	opts.Token, opts.APIKey = token, key
	sim := getleadsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := getlead.NewClassic(getlead.ClassicConfig{BaseURL: srv.URL, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	v3, err := getlead.NewV3(getlead.V3Config{BaseURL: srv.URL + "/api/v1", APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return c, v3, sim, srv
}

func noSecrets(t *testing.T, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), token) || strings.Contains(err.Error(), key)) {
		t.Fatalf("error leaks a secret: %v", err)
	}
}

func TestClassicCalls(t *testing.T) {
	c, _, sim, _ := setup(t, getleadsim.Options{})
	ctx := context.Background()
	err := c.CreateLead(ctx, getlead.Contact{CountryCode: "91", Mobile: "9876543210", Source: "crmsync",
		Fields: map[string]string{"name": "Asha", "Referred By": "Ravi"}})
	if err != nil {
		t.Fatal(err)
	}
	ref := getlead.LeadRef{CountryCode: "91", Mobile: "9876543210"}
	if err := c.ChangeStatus(ctx, ref, "Qualified"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddNote(ctx, ref, "first"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTask(ctx, getlead.Task{Name: "Call", Category: "2", Lead: &ref}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDeal(ctx, getlead.Deal{Mobile: "9876543210", CountryCode: "91", Status: "open", Name: "Big", Amount: "100"}); err != nil {
		t.Fatal(err)
	}
	if err := c.AssignDepartment(ctx, "4234", "Sales"); err != nil {
		t.Fatal(err)
	}
	l, ok := sim.LeadByPhone("+919876543210")
	if !ok || l.Name != "Asha" || l.Status != "Qualified" || l.Custom["Referred By"] != "Ravi" || len(l.Notes) != 1 || l.Source != "crmsync" {
		t.Fatalf("lead %+v", l)
	}
	if tasks, deals, depts := sim.Counts(); tasks != 1 || deals != 1 || depts != 1 {
		t.Fatalf("tasks %d deals %d depts %d", tasks, deals, depts)
	}
}

func TestClassicErrorClasses(t *testing.T) {
	c, _, sim, srv := setup(t, getleadsim.Options{})
	ctx := context.Background()
	wrong, _ := getlead.NewClassic(getlead.ClassicConfig{BaseURL: srv.URL, Token: "gl_wrong_token"})
	cases := []struct {
		name string
		call func() error
		want apierr.Class
	}{
		{"enquiry not found", func() error {
			return c.AddNote(ctx, getlead.LeadRef{CountryCode: "91", Mobile: "9999999999"}, "n")
		}, apierr.Permanent},
		{"mobile length", func() error {
			return c.CreateLead(ctx, getlead.Contact{CountryCode: "91", Mobile: "12345", Source: "s"})
		}, apierr.Permanent},
		{"unknown status", func() error {
			return c.CreateLead(ctx, getlead.Contact{CountryCode: "91", Mobile: "9876543210", Source: "s", Fields: map[string]string{"status": "Nope"}})
		}, apierr.Permanent},
		{"wrong token", func() error {
			return wrong.CreateLead(ctx, getlead.Contact{CountryCode: "91", Mobile: "9876543210", Source: "s"})
		}, apierr.Auth},
		{"server error", func() error {
			sim.Script("gl-website-contacts", getleadsim.Fault500)
			return c.CreateLead(ctx, getlead.Contact{CountryCode: "91", Mobile: "9876543210", Source: "s"})
		}, apierr.Transient},
		{"dropped after commit", func() error {
			sim.Script("gl-website-contacts", getleadsim.FaultDropAfterCommit)
			return c.CreateLead(ctx, getlead.Contact{CountryCode: "91", Mobile: "9876543210", Source: "s"})
		}, apierr.Transient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil || apierr.Classify(err) != tc.want {
				t.Fatalf("err %v class %v, want %v", err, apierr.Classify(err), tc.want)
			}
			noSecrets(t, err)
		})
	}
	var ge *getlead.Error
	err := c.AddNote(ctx, getlead.LeadRef{CountryCode: "91", Mobile: "9999999999"}, "n")
	if !errors.As(err, &ge) || ge.Status != "error" || ge.Message != getlead.MsgNotFound || !getlead.IsNotFound(err) {
		t.Fatalf("%#v", err)
	}
}

func TestTransportErrorsCarryNoToken(t *testing.T) {
	c, v3, _, srv := setup(t, getleadsim.Options{})
	srv.Close()
	err := c.AssignDepartment(context.Background(), "1", "d") // token in the path
	if err == nil || apierr.Classify(err) != apierr.Transient {
		t.Fatalf("%v", err)
	}
	noSecrets(t, err)
	_, err = v3.Meta(context.Background())
	noSecrets(t, err)
}

func TestV3Calls(t *testing.T) {
	_, v3, sim, _ := setup(t, getleadsim.Options{CustomFields: []string{"budget", "city"}})
	ctx := context.Background()
	meta, err := v3.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	qid, ok := meta.StatusID("qualified")
	if !ok || len(meta.CustomFields) != 2 {
		t.Fatalf("meta %+v", meta)
	}
	name := "Asha"
	id, err := v3.CreateLead(ctx, getlead.LeadWrite{Name: &name, PhoneNumbers: []string{"+919876543210"}, CustomFields: map[string]string{"budget": "10", "city": "Kochi"}})
	if err != nil || id == "" {
		t.Fatal(id, err)
	}
	got, err := v3.UpdateByIdentifier(ctx, getlead.Identifier{Phone: "+919876543210"}, getlead.LeadWrite{StatusID: qid})
	if err != nil || got != id {
		t.Fatal(got, err)
	}
	_, err = v3.UpdateByIdentifier(ctx, getlead.Identifier{Phone: "+919999999999"}, getlead.LeadWrite{StatusID: qid})
	if !getlead.IsNotFound(err) {
		t.Fatalf("unknown phone: %v", err)
	}
	if err := v3.UpdateLead(ctx, id, getlead.LeadWrite{CustomFields: map[string]string{"budget": "20"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := v3.AddNote(ctx, id, "hello", ""); err != nil {
		t.Fatal(err)
	}
	l, err := v3.GetLead(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "Asha" || l.StatusName != "Qualified" || len(l.CustomFields) != 1 || l.CustomFields["budget"] != "20" || l.Phones[0] != "+919876543210" {
		t.Fatalf("lead %+v", l)
	}
	if _, err := v3.GetLead(ctx, "01NOPE"); !getlead.IsNotFound(err) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := v3.AddNoteByIdentifier(ctx, getlead.Identifier{Phone: "+919876543210"}, "again", "t"); err != nil {
		t.Fatal(err)
	}
	if sl, _ := sim.LeadByPhone("+919876543210"); len(sl.Notes) != 2 {
		t.Fatalf("notes %v", sl.Notes)
	}
}

func TestV3ListFollowsCursor(t *testing.T) {
	_, v3, sim, _ := setup(t, getleadsim.Options{})
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		sim.SeedLead(getleadsim.LeadSeed{Name: string(rune('a' + i)), Phones: []string{"+9198765432" + string(rune('1'+i)) + "0"}, CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	var names []string
	q := getlead.ListQuery{PerPage: 2, CreatedFrom: t0.Add(time.Second)}
	for range 10 {
		p, err := v3.ListLeads(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range p.Leads {
			names = append(names, l.Name)
		}
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	if strings.Join(names, "") != "bcde" {
		t.Fatalf("got %v", names)
	}
}

func TestV3RateLimitCarriesRetryAfter(t *testing.T) {
	_, v3, sim, _ := setup(t, getleadsim.Options{})
	sim.Script("meta", getleadsim.Fault429)
	_, err := v3.Meta(context.Background())
	var ge *getlead.Error
	if apierr.Classify(err) != apierr.RateLimited || !errors.As(err, &ge) || ge.RetryAfter != getleadsim.ScriptedRetryAfter*time.Second {
		t.Fatalf("%#v", err)
	}
}

func TestV3ErrorShapes(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		header     string
		body       string
		retryAfter time.Duration
		code, msg  string
	}{
		{"top-level retry_after", 429, "", `{"message":"slow down","retry_after":60}`, time.Minute, "", "slow down"},
		{"context retry_after", 429, "", `{"error":{"message":"limited","code":"rate_limited","context":{"retry_after":"3"}}}`, 3 * time.Second, "rate_limited", "limited"},
		{"header fallback", 429, "5", `{"message":"x"}`, 5 * time.Second, "", "x"},
		{"html body", 502, "", `<html>bad gateway</html>`, 0, "", "<html>bad gateway</html>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			v3, _ := getlead.NewV3(getlead.V3Config{BaseURL: srv.URL, APIKey: key})
			_, err := v3.Meta(context.Background())
			var ge *getlead.Error
			if !errors.As(err, &ge) || ge.RetryAfter != tc.retryAfter || ge.Code != tc.code || ge.Message != tc.msg || ge.HTTPStatus != tc.status {
				t.Fatalf("%#v", err)
			}
		})
	}
}

func TestLeadDecodingIsTolerant(t *testing.T) {
	cases := []struct {
		name, json string
		check      func(getlead.Lead) bool
	}{
		{"list custom fields and string phones", `{"lead_id":"01A","phone_numbers":["+919876543210"],"custom_fields":[{"field_key":"k","value":5}],"status":{"id":2,"name":"Contacted"},"created_at":"2025-01-01T00:00:00.000000Z"}`,
			func(l getlead.Lead) bool {
				return l.ID == "01A" && l.Phones[0] == "+919876543210" && l.CustomFields["k"] == "5" && l.StatusID == "2" && l.StatusName == "Contacted" && l.CreatedAt.Year() == 2025
			}},
		{"object phones and map custom fields", `{"id":7,"phone_numbers":[{"number":"+14155550100"}],"custom_fields":{"k":"v","n":null},"status_id":"3","created_at":"2025-01-01 10:00:00"}`,
			func(l getlead.Lead) bool {
				return l.ID == "7" && l.Phones[0] == "+14155550100" && l.CustomFields["k"] == "v" && l.CustomFields["n"] == "" && l.StatusID == "3" && l.CreatedAt.Hour() == 10
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var l getlead.Lead
			if err := json.Unmarshal([]byte(tc.json), &l); err != nil {
				t.Fatal(err)
			}
			if !tc.check(l) {
				t.Fatalf("%+v", l)
			}
		})
	}
}

func FuzzLeadUnmarshal(f *testing.F) {
	f.Add(`{"lead_id":"01A","phone_numbers":["+919876543210"],"custom_fields":[{"field_key":"k","value":5}]}`)
	f.Add(`{"id":7,"phone_numbers":[{"number":1}],"custom_fields":{"k":[1]},"status":"x"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var l getlead.Lead
		_ = json.Unmarshal([]byte(s), &l) // must not panic
	})
}

// /meta gives each custom field's type and a select's {label, value}
// options; V3 refuses a value that does not fit its field's type (422,
// naming the field), and takes it once it does, unless strictness is off.
func TestV3TypedCustomFields(t *testing.T) {
	fields := []getleadsim.Field{
		{Key: "visit_date", Type: "date"},
		{Key: "call_at", Type: "datetime"},
		{Key: "budget", Type: "select", Options: []getleadsim.Option{{Label: "25000", Value: "_25000"}, {Label: "50000", Value: "_50000"}}},
		{Key: "seats", Type: "number"},
		{Key: "topics", Type: "multiselect", Options: []getleadsim.Option{{Label: "Food", Value: "food"}, {Label: "Music", Value: "music"}}},
	}
	_, v3, _, _ := setup(t, getleadsim.Options{CustomFields: []string{"city"}, Fields: fields})
	ctx := context.Background()
	meta, err := v3.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defs := map[string]getlead.FieldDef{}
	for _, d := range meta.CustomFields {
		defs[d.Key] = d
	}
	if defs["city"].Type != "text" || defs["visit_date"].Type != "date" || defs["call_at"].Type != "datetime" ||
		len(defs["budget"].AllowedValues) != 2 || defs["budget"].AllowedValues[0] != (getlead.FieldOption{Label: "25000", Value: "_25000"}) {
		t.Fatalf("meta custom fields %+v", meta.CustomFields)
	}
	name := "Asha"
	id, err := v3.CreateLead(ctx, getlead.LeadWrite{Name: &name, PhoneNumbers: []string{"+919876543210"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, bad, good string }{
		{"visit_date", "2026-12-04T10:00:00", "2026-12-04"},
		{"visit_date", "04/12/2026", "2026-12-04"},
		{"call_at", "2026-12-04 10:00:00", "2026-12-04T10:00:00"},
		{"call_at", "2026-12-04T10:00:00Z", "2026-12-04T10:00:00"},
		{"budget", "25000", "_25000"},
		{"seats", "twelve", "12.5"},
		{"topics", "food,Music", "food,music"},
	} {
		err := v3.UpdateLead(ctx, id, getlead.LeadWrite{CustomFields: map[string]string{tc.key: tc.bad}})
		var ge *getlead.Error
		if !errors.As(err, &ge) || ge.HTTPStatus != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), tc.key) ||
			apierr.Classify(err) != apierr.Permanent {
			t.Errorf("%s = %q: %v, want a permanent 422 naming the field", tc.key, tc.bad, err)
		}
		if err := v3.UpdateLead(ctx, id, getlead.LeadWrite{CustomFields: map[string]string{tc.key: tc.good}}); err != nil {
			t.Errorf("%s = %q: %v", tc.key, tc.good, err)
		}
	}

	_, lenient, _, _ := setup(t, getleadsim.Options{Fields: fields, LenientFields: true})
	if _, err := lenient.CreateLead(ctx, getlead.LeadWrite{Name: &name, PhoneNumbers: []string{"+919876543210"},
		CustomFields: map[string]string{"visit_date": "04/12/2026", "budget": "25000"}}); err != nil {
		t.Fatalf("lenient simulator: %v", err)
	}
}
