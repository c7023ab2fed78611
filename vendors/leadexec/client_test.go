package leadexec_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit/simtest"

	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

var t0 = time.Date(2026, 5, 4, 17, 0, 0, 0, time.UTC) // 10:00 AM PDT

type fixture struct {
	sim *leadexecsim.Server
	srv *httptest.Server
	clk *simtest.Clock
	c   *leadexec.Client
}

// newFixture runs a simulator over real HTTP and a client pointed at it
// for all three hosts. wrap, if set, wraps the simulator's handler.
func newFixture(t *testing.T, opts leadexecsim.Options, wrap func(http.Handler) http.Handler) *fixture {
	t.Helper()
	f := &fixture{clk: simtest.NewClock(t0)}
	if opts.Now == nil {
		opts.Now = f.clk.Now
	}
	f.sim = leadexecsim.NewServer(opts)
	var h http.Handler = f.sim
	if wrap != nil {
		h = wrap(h)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	f.c = f.client(t, nil)
	return f
}

func (f *fixture) client(t *testing.T, mod func(*leadexec.Config)) *leadexec.Client {
	t.Helper()
	cfg := leadexec.Config{APIURL: f.srv.URL, LeadsURL: f.srv.URL, DataURL: f.srv.URL, Key: leadexecsim.DefaultKey,
		ClientID: leadexecsim.DefaultClientID, ClientSecret: leadexecsim.DefaultClientSecret, Now: f.clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	c, err := leadexec.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var src = leadexec.Source{VID: leadexecsim.DefaultVID, LID: leadexecsim.DefaultLID, AID: leadexecsim.DefaultAID,
	APIKey: leadexecsim.DefaultPostingKey}

func lead(n int) map[string]string {
	return map[string]string{"FirstName": "Ana", "LastName": fmt.Sprintf("Diaz%d", n), "Email": fmt.Sprintf("ana%d@example.com", n),
		"PrimaryPhone": fmt.Sprintf("(503) 555-%04d", n), "City": "Portland", "State": "OR", "Zip": "97201"}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// campaigns: 301 open, 302 California only, 303 (disabled in the test), 304 one lead a day.
func campaignOptions() leadexecsim.Options {
	return leadexecsim.Options{Campaigns: []leadexecsim.Campaign{
		{AID: 301, VID: 101, LID: 201, Price: "25.00"},
		{AID: 302, VID: 101, LID: 201, AllowedStates: []string{"CA"}},
		{AID: 303, VID: 101, LID: 201},
		{AID: 304, VID: 101, LID: 201, DayMax: 1},
	}}
}

func TestInsertV1EveryResponseType(t *testing.T) {
	f := newFixture(t, campaignOptions(), nil)
	ctx := context.Background()
	first, err := f.c.InsertV1(ctx, src, lead(1))
	if err != nil || !first.IsValidPost || first.ResponseType != leadexec.NoError || first.LeadIdentifier == 0 ||
		first.VendorAccountAssigned != 301 || first.Price != "25.00" || first.PostID == "" {
		t.Fatalf("accepted: %+v %v", first, err)
	}
	if err := f.sim.DisableCampaign(303); err != nil {
		t.Fatal(err)
	}
	if r, err := f.c.InsertV1(ctx, leadexec.Source{VID: 101, LID: 201, AID: 304}, lead(50)); err != nil || !r.IsValidPost {
		t.Fatalf("fill cap: %+v %v", r, err)
	}
	cases := []struct {
		name    string
		src     leadexec.Source
		fields  map[string]string
		rt      leadexec.ResponseType
		out     leadexec.Outcome
		details string
		id      int64
	}{
		{"duplicate email", src, with(lead(2), "Email", "ANA1@example.com"), leadexec.DuplicateLead, leadexec.Exists, "Duplicate", first.LeadIdentifier},
		{"duplicate phone", src, with(lead(3), "PrimaryPhone", "1-503-555-0001"), leadexec.DuplicateLead, leadexec.Exists, "", first.LeadIdentifier},
		{"missing email", src, with(lead(4), "Email", ""), leadexec.DataErrors, leadexec.Rejected, "Email is required", 0},
		{"invalid phone", src, with(lead(5), "PrimaryPhone", "12"), leadexec.DataErrors, leadexec.Rejected, "PrimaryPhone is invalid", 0},
		{"outside criteria", leadexec.Source{VID: 101, LID: 201, AID: 302}, lead(6), leadexec.OutsideCriteria, leadexec.Rejected, "State", 0},
		{"no ids", leadexec.Source{}, lead(7), leadexec.SystemIDMissing, leadexec.Rejected, "", 0},
		{"no lead type", leadexec.Source{VID: 101}, lead(8), leadexec.LeadTypeIDMissing, leadexec.Rejected, "lid", 0},
		{"no vendor", leadexec.Source{LID: 201}, lead(9), leadexec.VendorIDMissing, leadexec.Rejected, "vid", 0},
		{"unknown vendor", leadexec.Source{VID: 999, LID: 201}, lead(10), leadexec.NoAccountFound, leadexec.Rejected, "", 0},
		{"campaign of another vendor", leadexec.Source{VID: 102, LID: 201, AID: 301}, lead(11), leadexec.NoAccountFound, leadexec.Rejected, "", 0},
		{"disabled campaign", leadexec.Source{VID: 101, LID: 201, AID: 303}, lead(12), leadexec.AccountDisabled, leadexec.Rejected, "disabled", 0},
		{"daily cap", leadexec.Source{VID: 101, LID: 201, AID: 304}, lead(13), leadexec.PostOverMax, leadexec.RetryLater, "maximum", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := f.c.InsertV1(ctx, tc.src, tc.fields)
			if err != nil {
				t.Fatal(err)
			}
			if r.IsValidPost || r.ResponseType != tc.rt || r.Outcome() != tc.out || r.LeadIdentifier != tc.id ||
				!strings.Contains(r.ResponseDetails, tc.details) {
				t.Errorf("%+v", r)
			}
		})
	}
	// The cap is per Pacific day: tomorrow the campaign takes a lead again.
	f.clk.Add(24 * time.Hour)
	if r, err := f.c.InsertV1(ctx, leadexec.Source{VID: 101, LID: 201, AID: 304}, lead(13)); err != nil || !r.IsValidPost {
		t.Fatalf("next day: %+v %v", r, err)
	}
	if n := len(f.sim.Leads()); n != 3 {
		t.Errorf("%d leads stored", n)
	}
	if got := f.sim.RequestCount(leadexecsim.EndpointInsertV1); got != len(cases)+3 {
		t.Errorf("%d requests for %d calls", got, len(cases)+3)
	}
}

func TestInsertV1RefusesReservedFieldNames(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	_, err := f.c.InsertV1(context.Background(), src, with(lead(1), "VID", "5"))
	if !errors.Is(err, leadexec.ErrInvalidRequest) || apierr.Classify(err) != apierr.Permanent {
		t.Fatalf("%v", err)
	}
	if n := f.sim.RequestCount(leadexecsim.EndpointInsertV1); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestInsertV2(t *testing.T) {
	for _, numeric := range []bool{false, true} {
		t.Run(fmt.Sprintf("numeric=%v", numeric), func(t *testing.T) {
			opts := campaignOptions()
			opts.NumericResponseType = numeric
			f := newFixture(t, opts, nil)
			ctx := context.Background()
			leads := []leadexec.LeadPost{
				{Properties: leadexec.LeadProperties{Reference: "crm-1", OrderID: "o-1", OfferIDs: []int64{4, 5}}, Fields: lead(1)},
				{Fields: with(lead(2), "Email", "ana1@example.com")}, // duplicate of the first, same call
				{Fields: with(lead(3), "LastName", "")},
				{Fields: lead(4)},
			}
			rs, err := f.c.InsertV2(ctx, src, leads)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 4 {
				t.Fatalf("%d responses", len(rs))
			}
			if !rs[0].IsValidPost || rs[0].LeadIdentifier == 0 || rs[1].ResponseType != leadexec.DuplicateLead ||
				rs[1].LeadIdentifier != rs[0].LeadIdentifier || rs[2].ResponseType != leadexec.DataErrors ||
				!strings.Contains(rs[2].ResponseDetails, "LastName") || !rs[3].IsValidPost {
				t.Fatalf("%+v", rs)
			}
			stored, ok := f.sim.LeadByUID(rs[0].LeadIdentifier)
			if !ok || stored.Version != 2 || stored.Properties["reference"] != "crm-1" || stored.Properties["offerIds"] != "[4,5]" ||
				stored.Fields["Email"] != "ana1@example.com" {
				t.Fatalf("stored %+v", stored)
			}
			capped := leadexec.Source{VID: 101, LID: 201, AID: 304, APIKey: leadexecsim.DefaultPostingKey}
			rs, err = f.c.InsertV2(ctx, capped, []leadexec.LeadPost{{Fields: lead(10)}, {Fields: lead(11)}})
			if err != nil || !rs[0].IsValidPost || rs[1].ResponseType != leadexec.PostOverMax || !rs[1].Err().(*leadexec.RejectError).Temporary() {
				t.Fatalf("cap: %+v %v", rs, err)
			}
		})
	}
}

func TestInsertV2Credentials(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	ctx := context.Background()
	noKey := src
	noKey.APIKey = ""
	if _, err := f.c.InsertV2(ctx, noKey, []leadexec.LeadPost{{Fields: lead(1)}}); !errors.Is(err, leadexec.ErrMissingCredentials) {
		t.Fatalf("no key: %v", err)
	}
	if n := f.sim.RequestCount(leadexecsim.EndpointInsertV2); n != 0 {
		t.Fatalf("%d requests without a key", n)
	}
	bad := src
	bad.APIKey = "wrong-posting-key"
	_, err := f.c.InsertV2(ctx, bad, []leadexec.LeadPost{{Fields: lead(1)}})
	if apierr.Classify(err) != apierr.Auth || apierr.Temporary(err) || strings.Contains(err.Error(), "wrong-posting-key") {
		t.Fatalf("bad key: %v", err)
	}
	if rs, err := f.c.InsertV2(ctx, src, nil); rs != nil || err != nil {
		t.Fatalf("no leads: %v %v", rs, err)
	}
}

func TestTokenCachedAndRefreshedMidRun(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	ctx := context.Background()
	q := leadexec.Query{StartDate: t0.Add(-time.Hour), EndDate: t0.Add(time.Hour)}
	query := func() {
		t.Helper()
		if _, err := f.c.QueryLeads(ctx, leadexecsim.DefaultLID, q); err != nil {
			t.Fatal(err)
		}
	}
	tokens := func() int { return f.sim.RequestCount(leadexecsim.EndpointToken) }
	for range 3 {
		query()
	}
	if n := tokens(); n != 1 {
		t.Fatalf("%d token requests for three calls", n)
	}

	// Expiry mid-run: the simulator refuses the cached token; the client
	// gets a new one and repeats the call once, transparently.
	f.sim.ExpireTokens()
	before := f.sim.RequestCount(leadexecsim.EndpointQueryLeads)
	query()
	if n := tokens(); n != 2 {
		t.Fatalf("%d token requests after expiry, want 2", n)
	}
	if n := f.sim.RequestCount(leadexecsim.EndpointQueryLeads) - before; n != 2 {
		t.Fatalf("%d query requests for one call after expiry, want 2 (401 + repeat)", n)
	}

	// Proactive refresh: within the margin (60 s) of the 3600 s lifetime,
	// the next call fetches a new token first, with no 401.
	f.clk.Add(3600*time.Second - 59*time.Second)
	before = f.sim.RequestCount(leadexecsim.EndpointQueryLeads)
	query()
	if n := tokens(); n != 3 {
		t.Fatalf("%d token requests near expiry, want 3", n)
	}
	if n := f.sim.RequestCount(leadexecsim.EndpointQueryLeads) - before; n != 1 {
		t.Fatalf("%d query requests near expiry, want 1", n)
	}
}

func TestTokenSingleFlight(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	q := leadexec.Query{StartDate: t0.Add(-time.Hour), EndDate: t0}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := f.c.QueryLeads(context.Background(), leadexecsim.DefaultLID, q)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.sim.RequestCount(leadexecsim.EndpointToken); n != 1 {
		t.Fatalf("%d token requests for 16 concurrent calls", n)
	}
}

func TestTokenShortLifetimeMargin(t *testing.T) {
	// A 100 s token is replaced 10 s (a tenth) before expiry, not 60 s.
	f := newFixture(t, leadexecsim.Options{TokenLifetime: 100 * time.Second}, nil)
	ts := f.c.Tokens()
	ctx := context.Background()
	a, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Add(89 * time.Second)
	if b, _ := ts.Token(ctx); b != a {
		t.Fatal("token replaced early")
	}
	f.clk.Add(time.Second)
	if b, _ := ts.Token(ctx); b == a || b == "" {
		t.Fatal("token not replaced at the margin")
	}
	ts.Invalidate(a) // an old token does not drop the new one
	if n := f.sim.RequestCount(leadexecsim.EndpointToken); n != 2 {
		t.Fatalf("%d token requests", n)
	}
	if _, err := ts.Token(ctx); err != nil || f.sim.RequestCount(leadexecsim.EndpointToken) != 2 {
		t.Fatalf("invalidating an old token refetched: %v", err)
	}
}

func TestTokenBadCredentials(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	c := f.client(t, func(cfg *leadexec.Config) { cfg.ClientSecret = "not-the-secret-123" })
	_, err := c.QueryLeads(context.Background(), 201, leadexec.Query{StartDate: t0, EndDate: t0})
	var e *leadexec.Error
	if !errors.As(err, &e) || e.Op != "Token" || e.HTTPStatus != 401 || e.Message != "invalid_client" ||
		!errors.Is(err, leadexec.ErrInvalidCredentials) || e.Class() != apierr.Auth || e.Temporary() {
		t.Fatalf("%#v", err)
	}
	if strings.Contains(err.Error(), "not-the-secret-123") {
		t.Fatal("secret in error")
	}
	if n := f.sim.RequestCount(leadexecsim.EndpointQueryLeads); n != 0 {
		t.Fatalf("%d queries without a token", n)
	}
}

func TestPersistent401IsTokenInvalid(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, leadexec.QueryPath) {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"message":"Authorization has been denied for this request."}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	_, err := f.c.QueryLeads(context.Background(), leadexecsim.DefaultLID, leadexec.Query{StartDate: t0, EndDate: t0})
	if !errors.Is(err, leadexec.ErrTokenInvalid) || apierr.Classify(err) != apierr.Auth ||
		!strings.Contains(err.Error(), "Authorization has been denied") {
		t.Fatalf("%v", err)
	}
	if n := f.sim.RequestCount(leadexecsim.EndpointToken); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
}

func TestClientListAndDataRoundTrip(t *testing.T) {
	for _, ns := range []string{"", "https://api.leadexec.net/Service/"} {
		t.Run("namespace="+ns, func(t *testing.T) {
			f := newFixture(t, leadexecsim.Options{Namespace: ns}, nil)
			ctx := context.Background()
			uid := f.sim.AddClient(leadexecsim.Client{Username: "acme", Password: "portal-secret-1", Notes: "VIP <gold> & co",
				Status: "Working", TimeZoneName: "Pacific Standard Time", OverrideReassign: true,
				Fields: map[int64]string{1001: "Acme Roofing", 1002: "Rita", 1003: "Moreno", 1004: "rita@acme.example",
					1005: "5035550199", 1006: "1 Main St", 1007: "Portland", 1008: "OR", 1009: "97201", 1011: "Evening"}})
			f.sim.AddClient(leadexecsim.Client{Username: "beta"})

			cl, err := f.c.GetClientList(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(cl) != 2 || cl[0].ClientUID != uid || cl[0].Username != "acme" || cl[0].Notes != "VIP <gold> & co" ||
				cl[0].Status != 2 || !cl[0].DateAdded.Equal(t0) || !cl[0].OverrideReassign || cl[0].AccountUID != leadexecsim.DefaultAccountUID ||
				cl[0].AutomationType != "Price" || len(cl[0].Extra) != 0 {
				t.Fatalf("%+v", cl)
			}
			fs, err := f.c.GetClientData(ctx, uid)
			if err != nil {
				t.Fatal(err)
			}
			want := map[leadexec.SpecialBit]string{
				leadexec.SpecialCompany: "Acme Roofing", leadexec.SpecialFirstName: "Rita", leadexec.SpecialLastName: "Moreno",
				leadexec.SpecialEmail: "rita@acme.example", leadexec.SpecialPrimaryPhone: "5035550199",
				leadexec.SpecialAddress: "1 Main St", leadexec.SpecialCity: "Portland", leadexec.SpecialState: "OR",
				leadexec.SpecialZip: "97201", leadexec.SpecialWebSite: "",
			}
			for bit, v := range want {
				if fl, ok := leadexec.FieldBySpecialBit(fs, bit); !ok || fl.FieldValue != v {
					t.Errorf("%v: %+v %v", bit, fl, ok)
				}
			}
			custom, ok := leadexec.FieldBySpecialBit(fs, leadexec.SpecialNone)
			if !ok || custom.ClientFieldUID != 1011 || custom.FieldValue != "Evening" || !custom.Enumerated || len(custom.Enums) != 3 {
				t.Errorf("custom %+v", custom)
			}
			if fs, err := f.c.GetClientData(ctx, 424242); err != nil || len(fs) != 0 {
				t.Errorf("unknown client: %v %v", fs, err)
			}
		})
	}
}

func TestClientDatesAcrossDST(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	added := []time.Time{
		time.Date(2026, 3, 8, 9, 59, 59, 0, time.UTC),    // 1:59:59 AM PST
		time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC),     // 3:00:00 AM PDT
		time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC),    // 1:30 AM PDT (first)
		time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC),    // 1:30 AM PST (second): reads back as the first
		time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),    // 2:00 AM PST
		time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), // 3:59:59 PM PST
	}
	for _, at := range added {
		f.sim.AddClient(leadexecsim.Client{DateAdded: at})
	}
	cl, err := f.c.GetClientList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cl {
		want := added[i]
		if i == 3 {
			want = want.Add(-time.Hour)
		}
		if !c.DateAdded.Equal(want) {
			t.Errorf("client %d: %v, want %v", i, c.DateAdded.UTC(), want)
		}
	}
}

func TestEditClientCreateThenEdit(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	ctx := context.Background()
	notes := "created by sync"
	id, err := f.c.EditClient(ctx, leadexec.ClientEdit{
		Info: leadexec.ClientEditInfo{Status: leadexec.StatusNew, Username: "newbuyer", Password: "pw-secret-9", Notes: &notes,
			TimeZoneName: "Pacific Standard Time"},
		FieldData: []leadexec.FieldData{{ClientFieldUID: 1001, Value: "New Buyer LLC"}, {ClientFieldUID: 1004, Value: "nb@example.com"}},
	})
	if err != nil || id == 0 {
		t.Fatalf("create: %d %v", id, err)
	}
	fs, err := f.c.GetClientData(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := leadexec.FieldBySpecialBit(fs, leadexec.SpecialCompany); c.FieldValue != "New Buyer LLC" {
		t.Fatalf("company %+v", c)
	}
	got, err := f.c.EditClient(ctx, leadexec.ClientEdit{Info: leadexec.ClientEditInfo{ClientUID: id, Status: leadexec.StatusActive},
		FieldData: []leadexec.FieldData{{ClientFieldUID: 1004, Value: "orders@newbuyer.example"}}})
	if err != nil || got != id {
		t.Fatalf("edit: %d %v", got, err)
	}
	fs, _ = f.c.GetClientData(ctx, id)
	if e, _ := leadexec.FieldBySpecialBit(fs, leadexec.SpecialEmail); e.FieldValue != "orders@newbuyer.example" {
		t.Fatalf("email %+v", e)
	}
	if c, _ := leadexec.FieldBySpecialBit(fs, leadexec.SpecialCompany); c.FieldValue != "New Buyer LLC" {
		t.Fatalf("company lost on edit: %+v", c)
	}
	// AddEditClient replaces the whole client: the edit was sent with every
	// property and field read back, so nothing it did not name changed.
	stored, _ := f.sim.ClientByUID(id)
	if stored.Status != "Active" || stored.Notes != notes || stored.Username != "newbuyer" || stored.Password != "pw-secret-9" ||
		stored.TimeZoneName != "Pacific Standard Time" || len(stored.Fields) != 11 {
		t.Fatalf("stored %+v", stored)
	}

	// An operator edits in the UI; the list shows it.
	if err := f.sim.UpdateClient(id, func(c *leadexecsim.Client) { c.Notes = "edited in UI" }); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.SetClientField(id, 1007, "Salem"); err != nil {
		t.Fatal(err)
	}
	cl, _ := f.c.GetClientList(ctx)
	fs, _ = f.c.GetClientData(ctx, id)
	if city, _ := leadexec.FieldBySpecialBit(fs, leadexec.SpecialCity); len(cl) != 1 || cl[0].Notes != "edited in UI" || city.FieldValue != "Salem" {
		t.Fatalf("operator edit not visible: %+v %+v", cl, city)
	}

	cases := []struct {
		name  string
		edit  leadexec.ClientEdit
		is    error
		sends bool
	}{
		{"new without password", leadexec.ClientEdit{Info: leadexec.ClientEditInfo{Username: "x"}}, leadexec.ErrInvalidRequest, false},
		{"unknown client", leadexec.ClientEdit{Info: leadexec.ClientEditInfo{ClientUID: 999999}}, leadexec.ErrNotFound, false},
		{"username taken", leadexec.ClientEdit{Info: leadexec.ClientEditInfo{Username: "NEWBUYER", Password: "p-1"}}, leadexec.ErrInvalidRequest, true},
		{"unknown field", leadexec.ClientEdit{Info: leadexec.ClientEditInfo{ClientUID: id}, FieldData: []leadexec.FieldData{{ClientFieldUID: 7, Value: "x"}}}, leadexec.ErrInvalidRequest, false},
		{"bad status", leadexec.ClientEdit{Info: leadexec.ClientEditInfo{ClientUID: id, Status: "Sleeping"}}, leadexec.ErrInvalidRequest, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.sim.RequestCount(leadexecsim.EndpointEditClient)
			_, err := f.c.EditClient(ctx, tc.edit)
			if !errors.Is(err, tc.is) || apierr.Classify(err) != apierr.Permanent {
				t.Fatalf("%v (class %v)", err, apierr.Classify(err))
			}
			if sent := f.sim.RequestCount(leadexecsim.EndpointEditClient) > before; sent != tc.sends {
				t.Fatalf("sent=%v", sent)
			}
		})
	}
}

func TestQueryLeadsPagingAcrossDST(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	ctx := context.Background()
	// Seven leads posted every 20 minutes from 1:00 AM PST on 3/8/2026,
	// across the spring-forward change (10:00 UTC).
	start := time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)
	var ids []int64
	for i := range 7 {
		f.clk.Set(start.Add(time.Duration(i) * 20 * time.Minute))
		r, err := f.c.InsertV1(ctx, src, lead(i+1))
		if err != nil || !r.IsValidPost {
			t.Fatalf("post %d: %+v %v", i, r, err)
		}
		ids = append(ids, r.LeadIdentifier)
	}
	f.clk.Set(start.Add(time.Hour))
	q := leadexec.Query{StartDate: start, EndDate: start.Add(2 * time.Hour), Take: 3}
	var got []leadexec.Lead
	pages := 0
	for {
		p, err := f.c.QueryLeads(ctx, leadexecsim.DefaultLID, q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if p.Total != 7 {
			t.Fatalf("total %d", p.Total)
		}
		got = append(got, p.Leads...)
		next, more := p.Next(q)
		if !more {
			break
		}
		q = next
	}
	if pages != 3 || len(got) != 7 {
		t.Fatalf("%d pages, %d leads", pages, len(got))
	}
	for i, l := range got {
		if l.UID != ids[i] || !l.DateAdded.Equal(start.Add(time.Duration(i)*20*time.Minute)) || l.DateAdded.Location() != time.UTC ||
			l.Fields["Email"] != lead(i + 1)["Email"] || l.Properties["Campaign"] != "301" {
			t.Errorf("lead %d: %+v", i, l)
		}
	}
	// The window is inclusive at both ends.
	p, err := f.c.QueryLeads(ctx, leadexecsim.DefaultLID, leadexec.Query{StartDate: start.Add(20 * time.Minute), EndDate: start.Add(60 * time.Minute)})
	if err != nil || p.Total != 3 || p.Leads[0].UID != ids[1] || p.Leads[2].UID != ids[3] {
		t.Fatalf("window: %+v %v", p, err)
	}
	if _, err := f.c.QueryLeads(ctx, 999, q); !errors.Is(err, leadexec.ErrNotFound) {
		t.Fatalf("unknown lead type: %v", err)
	}
	if _, err := f.c.QueryLeads(ctx, 201, leadexec.Query{EndDate: start}); !errors.Is(err, leadexec.ErrInvalidRequest) {
		t.Fatalf("no start: %v", err)
	}
}

func TestFaultsAreTemporary(t *testing.T) {
	ctx := context.Background()
	calls := map[leadexecsim.Endpoint]func(c *leadexec.Client) error{
		leadexecsim.EndpointInsertV1: func(c *leadexec.Client) error { _, err := c.InsertV1(ctx, src, lead(99)); return err },
		leadexecsim.EndpointInsertV2: func(c *leadexec.Client) error {
			_, err := c.InsertV2(ctx, src, []leadexec.LeadPost{{Fields: lead(98)}})
			return err
		},
		leadexecsim.EndpointGetClientList: func(c *leadexec.Client) error { _, err := c.GetClientList(ctx); return err },
		leadexecsim.EndpointGetClientData: func(c *leadexec.Client) error { _, err := c.GetClientData(ctx, 20001); return err },
		leadexecsim.EndpointEditClient: func(c *leadexec.Client) error {
			_, err := c.EditClient(ctx, leadexec.ClientEdit{Info: leadexec.ClientEditInfo{Password: "x-pw"}})
			return err
		},
		leadexecsim.EndpointQueryLeads: func(c *leadexec.Client) error {
			_, err := c.QueryLeads(ctx, 201, leadexec.Query{StartDate: t0, EndDate: t0})
			return err
		},
		leadexecsim.EndpointToken: func(c *leadexec.Client) error { _, err := c.Tokens().Token(ctx); return err },
	}
	faults := []struct {
		name   string
		inject func(s *leadexecsim.Server, ep leadexecsim.Endpoint)
		check  func(t *testing.T, err error)
	}{
		{"500", func(s *leadexecsim.Server, ep leadexecsim.Endpoint) { s.FailNext(ep, 1, 500) }, func(t *testing.T, err error) {
			var e *leadexec.Error
			if !errors.As(err, &e) || e.HTTPStatus != 500 || e.Class() != apierr.Transient {
				t.Errorf("%v", err)
			}
		}},
		{"503 html", func(s *leadexecsim.Server, ep leadexecsim.Endpoint) { s.FailNext(ep, 1, 503) }, func(t *testing.T, err error) {
			if apierr.Classify(err) != apierr.Transient || !strings.Contains(err.Error(), "503") {
				t.Errorf("%v", err)
			}
		}},
		{"429 with Retry-After", func(s *leadexecsim.Server, ep leadexecsim.Endpoint) { s.RateLimitNext(ep, 1, 30*time.Second) },
			func(t *testing.T, err error) {
				var e *leadexec.Error
				if !errors.As(err, &e) || e.Class() != apierr.RateLimited || e.RetryAfter != 30*time.Second ||
					!errors.Is(err, leadexec.ErrRateLimited) || !e.Temporary() {
					t.Errorf("%v", err)
				}
			}},
		{"429 without Retry-After", func(s *leadexecsim.Server, ep leadexecsim.Endpoint) { s.RateLimitNext(ep, 1, 0) },
			func(t *testing.T, err error) {
				var e *leadexec.Error
				if !errors.As(err, &e) || e.Class() != apierr.RateLimited || e.RetryAfter != 0 {
					t.Errorf("%v", err)
				}
			}},
		{"dropped after commit", func(s *leadexecsim.Server, ep leadexecsim.Endpoint) { s.DropAfterCommit(ep, 1) },
			func(t *testing.T, err error) {
				var e *leadexec.Error
				if !errors.As(err, &e) || !e.Transport || !e.Temporary() {
					t.Errorf("%v", err)
				}
			}},
		{"malformed body", func(s *leadexecsim.Server, ep leadexecsim.Endpoint) { s.MalformNext(ep, 1) },
			func(t *testing.T, err error) {
				if !errors.Is(err, leadexec.ErrMalformed) || !apierr.Temporary(err) {
					t.Errorf("%v", err)
				}
			}},
	}
	for ep, call := range calls {
		for _, fl := range faults {
			t.Run(string(ep)+"/"+fl.name, func(t *testing.T) {
				f := newFixture(t, leadexecsim.Options{}, nil)
				f.sim.AddClient(leadexecsim.Client{ClientUID: 20001})
				if ep != leadexecsim.EndpointToken {
					if _, err := f.c.Tokens().Token(ctx); err != nil { // warm, so the fault hits ep
						t.Fatal(err)
					}
				}
				fl.inject(f.sim, ep)
				before := f.sim.RequestCount(ep)
				err := call(f.c)
				if err == nil {
					t.Fatal("no error")
				}
				fl.check(t, err)
				if n := f.sim.RequestCount(ep) - before; n != 1 {
					t.Errorf("%d requests, want 1 (no retries)", n)
				}
				if err := call(f.c); err != nil && !isBusinessError(err) {
					t.Errorf("after the fault: %v", err)
				}
			})
		}
	}
}

// isBusinessError: the repeat after an in-doubt write may be refused for
// the write's own effect (a username or email now taken).
func isBusinessError(err error) bool { return errors.Is(err, leadexec.ErrInvalidRequest) }

func TestInDoubtPostResolvesAsDuplicate(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	ctx := context.Background()
	f.sim.DropAfterCommit(leadexecsim.EndpointInsertV1, 1)
	if _, err := f.c.InsertV1(ctx, src, lead(1)); !apierr.Temporary(err) {
		t.Fatalf("dropped: %v", err)
	}
	stored := f.sim.Leads()
	if len(stored) != 1 {
		t.Fatalf("%d leads stored by the dropped post", len(stored))
	}
	r, err := f.c.InsertV1(ctx, src, lead(1))
	if err != nil || r.Outcome() != leadexec.Exists || r.LeadIdentifier != stored[0].UID || r.Err() != nil {
		t.Fatalf("repeat: %+v %v", r, err)
	}
}

func TestRateLimitWindow(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	f.sim.SetRateLimit(leadexecsim.EndpointGetClientList, 2, time.Minute, 0)
	ctx := context.Background()
	for i := range 2 {
		if _, err := f.c.GetClientList(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := f.c.GetClientList(ctx); apierr.Classify(err) != apierr.RateLimited {
		t.Fatalf("third call: %v", err)
	}
	f.clk.Add(time.Minute)
	if _, err := f.c.GetClientList(ctx); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestASMXKeyErrors(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	ctx := context.Background()
	bad := f.client(t, func(c *leadexec.Config) { c.Key = "wrong-asmx-key-77" })
	_, err := bad.GetClientList(ctx)
	var e *leadexec.Error
	if !errors.As(err, &e) || e.HTTPStatus != 500 || e.Exception != "System.UnauthorizedAccessException" ||
		e.Message != "Invalid API key." || e.Class() != apierr.Auth || !errors.Is(err, leadexec.ErrInvalidCredentials) {
		t.Fatalf("%#v", err)
	}
	none := f.client(t, func(c *leadexec.Config) { c.Key = "" })
	if _, err := none.GetClientData(ctx, 1); !errors.Is(err, leadexec.ErrMissingCredentials) {
		t.Fatalf("no key: %v", err)
	}
}

// TestSecretsNeverInErrors runs every call against a server that echoes
// each request (headers and body) back in an error answer.
func TestSecretsNeverInErrors(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == leadexec.TokenPath {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"tok-SECRET-abc","token_type":"Bearer","expires_in":3600}`)
			return
		}
		status := 500
		if strings.HasPrefix(r.URL.Path, "/v1/leads") {
			status = 400
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "System.Exception: echo %s %v %s", r.URL, r.Header, b)
	}))
	defer echo.Close()
	secrets := []string{"asmx-SECRET-key", "client-SECRET-value", "tok-SECRET-abc", "post-SECRET-pw", "api-SECRET-key", "portal-SECRET-pw"}
	c, err := leadexec.New(leadexec.Config{APIURL: echo.URL, LeadsURL: echo.URL, DataURL: echo.URL, Key: secrets[0],
		ClientID: "id-1", ClientSecret: secrets[1]})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := leadexec.Source{VID: 1, LID: 2, Password: secrets[3], APIKey: secrets[4]}
	var errs []error
	_, err = c.InsertV1(ctx, s, lead(1))
	errs = append(errs, err)
	_, err = c.InsertV2(ctx, s, []leadexec.LeadPost{{Fields: lead(1)}})
	errs = append(errs, err)
	_, err = c.GetClientList(ctx)
	errs = append(errs, err)
	_, err = c.GetClientData(ctx, 3)
	errs = append(errs, err)
	_, err = c.EditClient(ctx, leadexec.ClientEdit{Info: leadexec.ClientEditInfo{Password: secrets[5]}})
	errs = append(errs, err)
	_, err = c.QueryLeads(ctx, 4, leadexec.Query{StartDate: t0, EndDate: t0})
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d: no error", i)
		}
		for _, sec := range secrets {
			if strings.Contains(err.Error(), sec) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), sec) {
				t.Errorf("call %d leaks %q: %v", i, sec, err)
			}
		}
	}
	info := leadexec.ClientEditInfo{Password: secrets[5]}
	if strings.Contains(fmt.Sprint(info), secrets[5]) || strings.Contains(fmt.Sprintf("%+v", info), secrets[5]) {
		t.Error("ClientEditInfo prints its password")
	}
}

func TestTransportErrorIsTemporary(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ := leadexec.New(leadexec.Config{APIURL: url, LeadsURL: url, DataURL: url, Key: "k-123"})
	_, err := c.GetClientList(context.Background())
	var e *leadexec.Error
	if !errors.As(err, &e) || !e.Transport || !e.Temporary() || strings.Contains(err.Error(), "k-123") {
		t.Fatalf("%v", err)
	}
}

func TestNewValidatesURLs(t *testing.T) {
	for _, bad := range []string{"ftp://x", "api.leadexec.net", "https://user:pw@x", "https://x/?q=1"} {
		if _, err := leadexec.New(leadexec.Config{APIURL: bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := leadexec.New(leadexec.Config{}); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	f := newFixture(t, leadexecsim.Options{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.c.GetClientList(ctx)
	if !errors.Is(err, context.Canceled) || !apierr.Temporary(err) {
		t.Fatalf("%v", err)
	}
	_, err = f.c.QueryLeads(ctx, 201, leadexec.Query{StartDate: t0, EndDate: t0})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("bearer: %v", err)
	}
}
