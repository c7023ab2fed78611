package connector_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/connector"
	"github.com/crmsync/crmsync/internal/connector/testdata/acme"
	"github.com/crmsync/crmsync/internal/golden"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sinktest"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// Acme CRM is a vendor added as one connector under testdata/acme, with no
// change anywhere else: these tests hold it to the same contracts as the
// built-in vendors.

// newAcme starts an Acme simulator over real HTTP and returns it with a
// client of it.
func newAcme(t *testing.T) (*acme.Simulator, *acme.Client, string) {
	t.Helper()
	sim := acme.NewSimulator(acme.SimOptions{APIKey: "acme_test_key"})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // runs first: releases held requests
	c, err := acme.NewClient(acme.ClientConfig{BaseURL: srv.URL, APIKey: "acme_test_key"})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c, srv.URL
}

func acmeRecord(key, email string, fields map[string]string) *pipeline.Record {
	f := map[string]string{acme.FieldEmail: email}
	for k, v := range fields {
		f[k] = v
	}
	return &pipeline.Record{Key: key, Fields: f, NaturalKeys: map[string]string{acme.FieldEmail: email}}
}

func TestAcmeSinkConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Factory{
		NewEnv: func(t *testing.T) *sinktest.Env {
			sim, c, _ := newAcme(t)
			sink, err := acme.NewSink(acme.SinkConfig{Client: c})
			if err != nil {
				t.Fatal(err)
			}
			return &sinktest.Env{
				Sink: sink,
				Record: func(i int) *pipeline.Record {
					return acmeRecord(fmt.Sprintf("k%d", i), fmt.Sprintf("ann%d@example.com", i), map[string]string{
						acme.FieldGivenName: fmt.Sprintf("Ann%d", i), acme.FieldFamilyName: "Lee", acme.FieldCity: "Leeds",
						acme.FieldPhone: fmt.Sprintf("+44 113 496 %04d", i)})
				},
				// Acme refuses a malformed address, lead by lead.
				Bad: func(i int) *pipeline.Record {
					return acmeRecord(fmt.Sprintf("bad%d", i), fmt.Sprintf("not-an-address-%d", i),
						map[string]string{acme.FieldGivenName: "Bad"})
				},
				Held: func(*testing.T) int { return sim.Len() },
				Outage: func(*testing.T) func() {
					sim.SetFaults(acme.Faults{OutageRate: 1})
					return func() { sim.SetFaults(acme.Faults{}) }
				},
				LoseAnswer: func(*testing.T) { sim.Script(acme.EndpointBatch, acme.FaultDropAfterCommit) },
			}
		},
	})
}

func TestAcmeBadRecordCarriesAcmesCode(t *testing.T) {
	_, c, _ := newAcme(t)
	sink, err := acme.NewSink(acme.SinkConfig{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	out := sink.Write(context.Background(), []*pipeline.Record{acmeRecord("k", "nope", nil)})
	var pe *pipeline.PermanentError
	if !errors.As(out[0].Err, &pe) || pe.Code != "invalid_email" {
		t.Fatalf("outcome %v, want a dead letter with code invalid_email", out[0].Err)
	}
}

func TestAcmeSinkWritesBatchesOfAtMostAHundred(t *testing.T) {
	sim, c, _ := newAcme(t)
	sink, err := acme.NewSink(acme.SinkConfig{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]*pipeline.Record, 250)
	for i := range recs {
		recs[i] = acmeRecord(fmt.Sprintf("k%d", i), fmt.Sprintf("p%d@example.com", i), nil)
	}
	for i, o := range sink.Write(context.Background(), recs) {
		if o.Err != nil || o.TargetID == "" {
			t.Fatalf("record %d: %+v", i, o)
		}
	}
	if st := sim.Stats(); st.ByEndpoint[acme.EndpointBatch] != 3 || sim.Len() != 250 {
		t.Fatalf("%d batch requests for %d leads, want 3 for 250", st.ByEndpoint[acme.EndpointBatch], sim.Len())
	}
}

func TestAcmeSinkRecreatesALeadDeletedAtAcmeByEmail(t *testing.T) {
	sim, c, _ := newAcme(t)
	sink, err := acme.NewSink(acme.SinkConfig{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	r := acmeRecord("k", "gone@example.com", map[string]string{acme.FieldCity: "York"})
	r.TargetID = "999" // an id Acme does not have (any more)
	out := sink.Write(context.Background(), []*pipeline.Record{r})
	if out[0].Err != nil || out[0].TargetID == "" || out[0].TargetID == "999" || sim.Len() != 1 {
		t.Fatalf("outcome %+v, %d leads held", out[0], sim.Len())
	}
}

func TestAcmePollerConformance(t *testing.T) {
	sourcetest.Run(t, sourcetest.Factory{
		NewEnv: func(t *testing.T) *sourcetest.Env {
			sim, c, _ := newAcme(t)
			state := testenv.State(t)
			n := 0
			return &sourcetest.Env{
				Bus: testenv.Bus(t), Cursors: state, Cursor: "acme.lead", Subject: pipeline.Subject("lead", "acme"),
				Start: func(t *testing.T, pub pipeline.Publisher) sourcetest.Poll {
					p, err := acme.NewPoller(acme.PollerConfig{Client: c, State: state, Publisher: pub, PerPage: 2})
					return sourcetest.PollOf(t, p.Poll, err)
				},
				Create: func(_ *testing.T, k int) []string {
					var ids []string
					for range k {
						n++
						ids = append(ids, sim.Add(map[string]string{acme.FieldGivenName: fmt.Sprintf("Lead%02d", n),
							acme.FieldEmail: fmt.Sprintf("lead%02d@example.com", n)}))
					}
					return ids
				},
				Change: func(t *testing.T, ids ...string) {
					for _, id := range ids {
						n++
						if !sim.Edit(id, func(f map[string]string) { f[acme.FieldCity] = fmt.Sprintf("City%02d", n) }) {
							t.Fatalf("no lead %s", id)
						}
					}
				},
			}
		},
	})
}

// TestAcmePollerMissesNoLeadChangedWhilePaging edits leads the poll has
// not reached and leads it has passed, between its pages: the keyset
// cursor finds every change, each once.
func TestAcmePollerMissesNoLeadChangedWhilePaging(t *testing.T) {
	sim, c, _ := newAcme(t)
	state := testenv.State(t)
	var ids []string
	for i := range 6 {
		ids = append(ids, sim.Add(map[string]string{acme.FieldEmail: fmt.Sprintf("p%d@example.com", i)}))
	}
	rec := &sourcetest.Recorder{}
	edited := false
	pub := publishFunc(func(ctx context.Context, ev pipeline.Event) error {
		if err := rec.Publish(ctx, ev); err != nil {
			return err
		}
		if ev.ExternalID == ids[1] && !edited { // after the first page of two
			edited = true
			sim.Edit(ids[0], func(f map[string]string) { f[acme.FieldCity] = "Passed" })
			sim.Edit(ids[4], func(f map[string]string) { f[acme.FieldCity] = "Ahead" })
		}
		return nil
	})
	p, err := acme.NewPoller(acme.PollerConfig{Client: c, State: state, Publisher: pub, PerPage: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	cities := map[string]string{}
	for _, ev := range rec.Events() {
		got = append(got, ev.ExternalID)
		cities[ev.ExternalID] = ev.Fields[acme.FieldCity]
	}
	want := []string{ids[0], ids[1], ids[2], ids[3], ids[5], ids[0], ids[4]}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("published %v, want %v", got, want)
	}
	if cities[ids[0]] != "Passed" || cities[ids[4]] != "Ahead" {
		t.Fatalf("last values published: %v", cities)
	}
}

type publishFunc func(context.Context, pipeline.Event) error

func (f publishFunc) Publish(ctx context.Context, ev pipeline.Event) error { return f(ctx, ev) }

func TestAcmePagerPagesThroughTheHistoryOnce(t *testing.T) {
	sim, c, _ := newAcme(t)
	for i := range 5 {
		sim.Add(map[string]string{acme.FieldEmail: fmt.Sprintf("h%d@example.com", i)})
	}
	p := &acme.Pager{Client: c, PerPage: 2}
	seen := map[string]int{}
	cursor, pages := "", 0
	for {
		evs, next, err := p.Page(context.Background(), cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, ev := range evs {
			seen[ev.ExternalID]++
		}
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("the pager does not end")
		}
		cursor = next
	}
	if len(seen) != 5 || pages != 3 {
		t.Fatalf("%d pages, leads %v", pages, seen)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("lead %s published %d times", id, n)
		}
	}
}

func TestAcmeClientClassifiesAcmesAnswers(t *testing.T) {
	sim, c, url := newAcme(t)
	ctx := context.Background()
	wrong, err := acme.NewClient(acme.ClientConfig{BaseURL: url, APIKey: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Get(ctx, []string{"1"})
	testenv.VendorError[*acme.Error](t, err, apierr.Auth)
	sim.Script(acme.EndpointGet, acme.Fault429)
	_, err = c.Get(ctx, []string{"1"})
	if e := testenv.VendorError[*acme.Error](t, err, apierr.RateLimited); e.RetryAfter <= 0 {
		t.Errorf("429 without its Retry-After: %+v", e)
	}
	sim.Script(acme.EndpointGet, acme.Fault503)
	_, err = c.Get(ctx, []string{"1"})
	testenv.VendorError[*acme.Error](t, err, apierr.Transient)
	res, err := c.Upsert(ctx, make([]acme.LeadWrite, 1))
	if err != nil {
		t.Fatal(err)
	}
	testenv.VendorError[*acme.Error](t, res[0].Err, apierr.Permanent)
	_, err = c.Upsert(ctx, make([]acme.LeadWrite, acme.MaxBatch+1))
	testenv.VendorError[*acme.Error](t, err, apierr.Permanent)
	sim.Script(acme.EndpointBatch, acme.FaultDropAfterCommit)
	_, err = c.Upsert(ctx, []acme.LeadWrite{{Fields: map[string]string{acme.FieldEmail: "x@example.com"}}})
	if e := testenv.VendorError[*acme.Error](t, err, apierr.Transient); !e.NoAnswer {
		t.Errorf("a dropped answer is not marked as such: %+v", e)
	}
	if strings.Contains(err.Error(), "acme_test_key") {
		t.Errorf("the key is in an error: %v", err)
	}
}

// acmeBase is the rest of a configuration that routes to or from Acme.
const acmeBase = `
leadexec:
  webhook: {basic_user: u, basic_password: p}
  receiver: {vid: 1, lid: 2, api_key: posting}
  key: asmx-key
`

func TestAcmeSectionIsParsedWithItsDefaults(t *testing.T) {
	c, err := config.Parse([]byte(acmeBase+`
acme:
  endpoint: https://api.acme-crm.example
  api_key: ${ACME_API_KEY}
routes:
  - {from: leadexec.lead, to: acme.lead}
`), func(k string) (string, bool) { return "k3y", k == "ACME_API_KEY" })
	if err != nil {
		t.Fatal(err)
	}
	s, ok := c.Section("acme").(*acme.Section)
	if !ok {
		t.Fatalf("section: %#v", c.Section("acme"))
	}
	if s.APIKey.Value() != "k3y" || s.RatePerSecond != 5 || s.Timeout.Std() != 30*time.Second || s.Poller.Interval.Std() != time.Minute {
		t.Fatalf("section %+v", s)
	}
	if s.Account() == "" || strings.Contains(s.Account(), "k3y") {
		t.Fatalf("account label %q", s.Account())
	}
	if len(c.Routes) != 1 || c.Routes[0].To != "acme.lead" {
		t.Fatalf("routes %+v", c.Routes)
	}
	if got := config.SecretsOf(s); len(got) != 1 || got[0].Path != "api_key" || got[0].Value.Value() != "k3y" {
		t.Errorf("secrets %+v", got)
	}
	// Rendered again, the section is there with its key hidden.
	b, err := config.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "acme:") || !strings.Contains(string(b), "rate_per_second: 5") || strings.Contains(string(b), "k3y") {
		t.Fatalf("rendered:\n%s", b)
	}
}

func TestAcmeSectionProblemsCarryTheirPaths(t *testing.T) {
	_, err := config.Parse([]byte(acmeBase+`
acme:
  endpoint: not-a-url
  bogus: 1
  rate_per_second: -2
  timeout: soon
  poller: {interval: 10ms}
routes:
  - {from: leadexec.lead, to: acme.lead}
`), func(string) (string, bool) { return "", false })
	var ce *config.Errors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"acme.bogus", "acme.timeout", `acme.endpoint: "not-a-url" is not an absolute http(s) URL`,
		"acme.api_key: is required", "acme.rate_per_second: -2 is outside", "acme.poller.interval: 10ms is under 1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestARouteFromAcmeNeedsTheAcmeSection(t *testing.T) {
	_, err := config.Parse([]byte(`
sharpspring: {account_id: "1", secret_key: k}
routes:
  - {from: acme.lead, to: sharpspring.lead}
`), func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "acme: a route uses Acme CRM but the acme section is missing") {
		t.Fatalf("err = %v", err)
	}
}

// TestAcmeOpensFromTheRegistry opens the account the way the application
// does (connector.OpenAll) and checks the parts it takes in: the codec,
// the sink, the poller, the pager, the budget and the request counts.
func TestAcmeOpensFromTheRegistry(t *testing.T) {
	sim, _, url := newAcme(t)
	le := httptest.NewServer(leadexecsim.NewServer(leadexecsim.Options{}))
	t.Cleanup(le.Close)
	opened := connector.OpenFile(t, fmt.Sprintf(`
leadexec:
  webhook: {basic_user: u, basic_password: p}
  receiver: {vid: %d, lid: %d, api_key: %s}
  key: %s
  api_url: %[5]s
  leads_url: %[5]s
  data_url: %[5]s
`, leadexecsim.DefaultVID, leadexecsim.DefaultLID, leadexecsim.DefaultPostingKey, leadexecsim.DefaultKey, le.URL)+`
acme: {endpoint: "`+url+`", api_key: acme_test_key}
routes:
  - {from: leadexec.lead, to: acme.lead}
  - {from: acme.lead, to: leadexec.lead}
`, testenv.Bus(t))
	// LeadExec, the other end of both routes, opens from the registry too:
	// its webhook receiver and lead sink.
	if l := opened["leadexec"]; l == nil || len(l.Webhooks) != 1 || l.Webhooks[0].Path != "/webhooks/leadexec" || l.Webhooks[0].Stats == nil {
		t.Fatalf("leadexec account %+v", l)
	}
	if _, ok := opened.Sink("leadexec.lead"); !ok {
		t.Fatal("no leadexec.lead sink")
	}
	a := opened["acme"]
	if a == nil || opened.LeadCodec("acme") == nil || len(a.Budgets) != 1 || a.Pager == nil || a.Stats == nil {
		t.Fatalf("account %+v", a)
	}
	if len(a.Sources) != 1 || a.Sources[0].Name() != "acme.lead" {
		t.Fatalf("sources %v", a.Sources)
	}
	sink, ok := opened.Sink("acme.lead")
	if !ok {
		t.Fatal("no acme.lead sink")
	}
	out := sink.Write(context.Background(), []*pipeline.Record{acmeRecord("k", "reg@example.com", nil)})
	if out[0].Err != nil || sim.Len() != 1 {
		t.Fatalf("write through the registry's sink: %+v, %d leads", out[0], sim.Len())
	}
	if req, _ := a.Stats(); req["leads.batch"] != 1 {
		t.Fatalf("request counts %v", req)
	}
	pager, err := a.Pager("lead", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if evs, _, err := pager.Page(context.Background(), ""); err != nil || len(evs) != 1 {
		t.Fatalf("pager: %v, %v", evs, err)
	}
	if _, ok := connector.Lookup("acme"); !ok {
		t.Fatal("acme is not registered")
	}
}

// TestAcmeSimulatorServesTheConnectorsSection starts the simulator the way
// `crmsync sim` and the scenario do and writes through the section it
// gives.
func TestAcmeSimulatorServesTheConnectorsSection(t *testing.T) {
	con, _ := connector.Lookup("acme")
	sim, err := con.Sim()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	s := sim.Section().(*acme.Section)
	var problems []string
	s.Validate(func(path, format string, args ...any) {
		problems = append(problems, path+": "+fmt.Sprintf(format, args...))
	})
	if len(problems) > 0 || len(sim.Secrets()) != 1 || sim.Secrets()[0] != s.APIKey.Value() {
		t.Fatalf("section %+v: %v", s, problems)
	}
	c, err := acme.NewClient(acme.ClientConfig{BaseURL: s.Endpoint, APIKey: s.APIKey.Value()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upsert(context.Background(), []acme.LeadWrite{{Fields: map[string]string{
		acme.FieldGivenName: "Ann", acme.FieldFamilyName: "Lee", acme.FieldEmail: "ann@example.com", acme.FieldNotes: "hi"}}}); err != nil {
		t.Fatal(err)
	}
	leads := sim.Leads()
	if len(leads) != 1 || leads[0]["first_name"] != "Ann" || leads[0]["last_name"] != "Lee" || leads[0]["email"] != "ann@example.com" ||
		leads[0]["description"] != "hi" {
		t.Fatalf("leads %v", leads)
	}
}

// acmeGoldenCursors are poller positions of every shape the poller saves.
// testdata/acme/cursors.golden holds them as stored; an upgraded poller
// must resume from each.
var acmeGoldenCursors = []sourcetest.GoldenCursor[acme.Cursor]{
	{Name: "first poll over the whole history", Cursor: acme.Cursor{}},
	{Name: "first poll from a configured start", Cursor: acme.Cursor{Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
	{Name: "after a page: Acme's keyset cursor",
		Cursor: acme.Cursor{Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), After: "eyJ1IjoiMjAyNi0wMy0wMVQxMDowMDowMC4xMjM0NTZaIiwiaSI6NDJ9"}},
}

// TestAcmeCursorFormatGolden: what the poller stores does not change by
// accident, and every stored shape reads back as the position it was
// written from.
func TestAcmeCursorFormatGolden(t *testing.T) {
	const path = "testdata/acme/cursors.golden"
	golden.Compare(t, path, []byte(sourcetest.RenderCursors(t, []string{
		"Acme poller cursors as stored in the state database.",
		"An upgraded crmsync must resume from each: see acme_test.go.",
	}, acmeGoldenCursors)))
	sourcetest.CheckCursorsDecode(t, golden.Blocks(t, path), acmeGoldenCursors, acme.DecodeCursor,
		func(got, want acme.Cursor) bool { return got.Since.Equal(want.Since) && got.After == want.After })
	for _, bad := range []string{`{}`, `{"after":"x"}`, `{"since":"2026-01-01T00:00:00Z","bogus":1}`, `[]`, `{"since":"2026-01-01T00:00:00Z"} {}`} {
		if _, err := acme.DecodeCursor(bad); err == nil {
			t.Errorf("cursor %s was read", bad)
		}
	}
}

func TestAcmeSimulatorRefusesMoreThanAHundredLeadsAndAWrongKey(t *testing.T) {
	sim, _, base := newAcme(t)
	post := func(key string, n int) int {
		leads := make([]string, n)
		for i := range leads {
			leads[i] = fmt.Sprintf(`{"email":"b%d@example.com"}`, i)
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/leads/batch", strings.NewReader(`{"leads":[`+strings.Join(leads, ",")+`]}`))
		req.Header.Set("X-Api-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(sim.APIKey(), acme.MaxBatch+1); code != http.StatusBadRequest || sim.Len() != 0 {
		t.Fatalf("101 leads: %d, %d held", code, sim.Len())
	}
	if code := post("wrong", 1); code != http.StatusUnauthorized || sim.Len() != 0 {
		t.Fatalf("wrong key: %d, %d held", code, sim.Len())
	}
	if code := post(sim.APIKey(), acme.MaxBatch); code != http.StatusOK || sim.Len() != acme.MaxBatch {
		t.Fatalf("100 leads: %d, %d held", code, sim.Len())
	}
	if st := sim.Stats(); st.Requests != 3 || st.ByEndpoint[acme.EndpointBatch] != 2 || st.HTTPStatus[http.StatusUnauthorized] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// FuzzAcmeListAnswer feeds the client answers Acme might give to a list
// request: it never panics, and what it refuses is an *acme.Error with a
// UTF-8 message.
func FuzzAcmeListAnswer(f *testing.F) {
	for _, s := range []string{
		`{"data":[{"id":"1","email":"a@example.com","updated_at":"2026-03-01T10:00:00Z"}],"next":"x","more":true}`,
		`{"data":[{"id":1}]}`, `{"data":[{"id":"1","given_name":7}]}`, `{"data":[{"id":"1","updated_at":"yesterday"}]}`,
		`{"data":null}`, `<html>`, "{\"data\":[{\"id\":\"\xff\"}]}", ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
		defer srv.Close()
		c, err := acme.NewClient(acme.ClientConfig{BaseURL: srv.URL, APIKey: "k"})
		if err != nil {
			t.Fatal(err)
		}
		page, err := c.List(context.Background(), acme.ListQuery{})
		if err != nil {
			testenv.RefusedAnswer[*acme.Error](t, err)
			return
		}
		for _, l := range page.Leads {
			if l.ID == "" {
				t.Fatalf("a lead without an id was taken: %+v", l)
			}
		}
	})
}

// TestAcmeAccountKeepsToItsRate opens the account from the registry with
// rate_per_second 3 against an Acme that refuses a fourth request in any
// sliding second: concurrent writes all succeed, none is refused.
func TestAcmeAccountKeepsToItsRate(t *testing.T) {
	sim := acme.NewSimulator(acme.SimOptions{APIKey: "acme_test_key", RatePerSecond: 3})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	opened := connector.OpenFile(t, acmeBase+`
acme: {endpoint: "`+srv.URL+`", api_key: acme_test_key, rate_per_second: 3}
routes:
  - {from: leadexec.lead, to: acme.lead}
`, nil)
	sink, _ := opened.Sink("acme.lead")
	errs := make(chan error, 8)
	for i := range cap(errs) {
		go func() {
			out := sink.Write(context.Background(), []*pipeline.Record{acmeRecord(fmt.Sprint(i), fmt.Sprintf("r%d@example.com", i), nil)})
			errs <- out[0].Err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if st := sim.Stats(); st.RateLimited != 0 || st.MaxInSlidingSecond > 3 || sim.Len() != cap(errs) {
		t.Fatalf("%d refused, at most %d in a second, %d leads held", st.RateLimited, st.MaxInSlidingSecond, sim.Len())
	}
}

func TestAcmeCodecTranslatesAcmesFieldsAndKeysByEmail(t *testing.T) {
	codec := acme.Codec{}
	fields := map[string]string{acme.FieldGivenName: "Ann", acme.FieldFamilyName: "O'Neil", acme.FieldEmail: "Ann.ONeil@Example.com",
		acme.FieldPhone: "+44 113 496 0000", acme.FieldCompany: "Acme", acme.FieldCity: "Leeds", acme.FieldNotes: "met at the fair",
		"favourite_colour": "blue"}
	l, err := codec.Decode(fields)
	if err != nil {
		t.Fatal(err)
	}
	want := mappings.Lead{mappings.FirstName: "Ann", mappings.LastName: "O'Neil", mappings.Email: "Ann.ONeil@Example.com",
		mappings.Phone: "+44 113 496 0000", mappings.Company: "Acme", mappings.City: "Leeds", mappings.Description: "met at the fair"}
	if !maps.Equal(l, want) {
		t.Fatalf("decoded %v, want %v", l, want)
	}
	delete(fields, "favourite_colour")
	l[mappings.Title] = "CTO" // Acme has no place for it
	if got := codec.Encode(l); !maps.Equal(got, fields) {
		t.Fatalf("encoded %v, want %v", got, fields)
	}
	if k := codec.Keys(l); len(k) != 1 || k[0] != (pipeline.Key{Vendor: "acme", Entity: "lead", Kind: pipeline.KindEmail, Value: "ann.oneil@example.com"}) {
		t.Fatalf("keys %v", k)
	}
	if nk := codec.NaturalKeys(l); len(nk) != 1 || nk[acme.FieldEmail] != "Ann.ONeil@Example.com" {
		t.Fatalf("natural keys %v", nk)
	}
	if _, err := codec.Decode(map[string]string{acme.FieldEmail: "nope"}); !errors.Is(err, mappings.ErrInvalid) {
		t.Fatalf("a malformed email decoded: %v", err)
	}
	if got := codec.Encode(mappings.Lead{mappings.City: ""}); len(got) != 1 || got[acme.FieldCity] != "" {
		t.Fatalf("a cleared field encoded as %v", got)
	}
}

// A route's batch_size is checked against the limit of the vendor it
// writes to, which a connector declares, and defaults to it.
func TestARouteToAcmeTakesAcmesBatchLimit(t *testing.T) {
	parse := func(route string) (*config.Config, error) {
		return config.Parse([]byte(acmeBase+`
acme: {endpoint: "https://api.acme-crm.example", api_key: k}
sharpspring: {account_id: "1", secret_key: k}
routes:
  - `+route+`
`), func(string) (string, bool) { return "", false })
	}
	_, err := parse(`{from: leadexec.lead, to: acme.lead, batch_size: 300}`)
	if err == nil || !strings.Contains(err.Error(), "routes[0].batch_size: 300 is outside 1..100 (Acme CRM takes at most 100 objects per write)") {
		t.Fatalf("err = %v", err)
	}
	cfg, err := parse(`{from: leadexec.lead, to: acme.lead}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Routes[0].BatchSize; got != acme.MaxBatch {
		t.Fatalf("default batch_size of a route to Acme = %d, want %d", got, acme.MaxBatch)
	}
	if _, err := parse(`{from: acme.lead, to: sharpspring.lead, batch_size: 500}`); err != nil {
		t.Fatalf("a route from Acme to SharpSpring keeps SharpSpring's limit: %v", err)
	}
}
