package ivvy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit/simtest"

	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/ivvy"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

const testSecret = "sim-secret-never-printed"

func newSim(t *testing.T, opts ivvysim.Options) (*ivvysim.Server, string) {
	t.Helper()
	if opts.Keys == nil {
		opts.Keys = map[string]string{"key-1": testSecret}
	}
	sim := ivvysim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); srv.Close() })
	return sim, srv.URL
}

func newClient(t *testing.T, url string, mod func(*ivvy.Config)) *ivvy.Client {
	t.Helper()
	cfg := ivvy.Config{Endpoint: url, APIKey: "key-1", APISecret: testSecret}
	if mod != nil {
		mod(&cfg)
	}
	c, err := ivvy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPingAgainstSimulator(t *testing.T) {
	_, url := newSim(t, ivvysim.Options{})
	ack, err := newClient(t, url, nil).Ping(context.Background())
	if err != nil || ack == "" {
		t.Fatalf("ack %q err %v", ack, err)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		setup func(sim *ivvysim.Server, clk *simtest.Clock, cfg *ivvy.Config)
		call  func(c *ivvy.Client) error
		class apierr.Class
		code  int
	}{
		{"stale after clock skew", func(_ *ivvysim.Server, clk *simtest.Clock, cfg *ivvy.Config) {
			cfg.Now = func() time.Time { return clk.Now().Add(-6 * time.Minute) }
		}, ping, apierr.Transient, 23005},
		{"wrong secret", func(_ *ivvysim.Server, _ *simtest.Clock, cfg *ivvy.Config) { cfg.APISecret = "wrong" }, ping, apierr.Auth, 23003},
		{"unknown key", func(_ *ivvysim.Server, _ *simtest.Clock, cfg *ivvy.Config) { cfg.APIKey = "nobody" }, ping, apierr.Auth, 23002},
		{"required parameter missing", nil, func(c *ivvy.Client) error {
			_, err := c.AddOrUpdateLead(ctx, ivvy.LeadInput{Name: ptr("x")})
			return err
		}, apierr.Permanent, 23017},
		{"empty lead", nil, func(c *ivvy.Client) error {
			_, err := c.AddOrUpdateLead(ctx, ivvy.LeadInput{})
			return err
		}, apierr.Permanent, 24215},
		{"unknown lead id", nil, func(c *ivvy.Client) error {
			_, err := c.AddOrUpdateLead(ctx, ivvy.LeadInput{ID: 999999, Description: ptr("x")})
			return err
		}, apierr.Permanent, 24216},
		{"invalid lookup id", nil, func(c *ivvy.Client) error {
			_, err := c.AddOrUpdateLead(ctx, validLead(func(l *ivvy.LeadInput) { l.StageID = 777 }))
			return err
		}, apierr.Permanent, 24218},
		{"lead custom field with value key", nil, func(c *ivvy.Client) error {
			return c.Call(ctx, "contact", "addOrUpdateLead", map[string]any{"name": "x", "sourceId": 1, "typeId": 1, "stageId": 1,
				"qualityId": 1, "industryId": 1, "contact": map[string]any{"firstName": "A", "lastName": "B", "email": "a@b.co"},
				"customFields": []map[string]any{{"fieldId": 1, "value": "x"}}}, nil)
		}, apierr.Permanent, 23016},
		{"429 injected", func(sim *ivvysim.Server, _ *simtest.Clock, _ *ivvy.Config) { sim.Script("test.ping", ivvysim.Fault429) }, ping, apierr.RateLimited, 429},
		{"500 injected", func(sim *ivvysim.Server, _ *simtest.Clock, _ *ivvy.Config) { sim.Script("test.ping", ivvysim.Fault500) }, ping, apierr.Transient, 500},
		{"503 html", func(sim *ivvysim.Server, _ *simtest.Clock, _ *ivvy.Config) { sim.Script("test.ping", ivvysim.Fault503) }, ping, apierr.Transient, 503},
		{"dropped after commit", func(sim *ivvysim.Server, _ *simtest.Clock, _ *ivvy.Config) {
			sim.Script("test.ping", ivvysim.FaultDropAfterCommit)
		}, ping, apierr.Transient, 0},
		{"unknown action", nil, func(c *ivvy.Client) error { return c.Call(ctx, "crm", "nope", nil, nil) }, apierr.Permanent, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := simtest.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
			sim, url := newSim(t, ivvysim.Options{Now: clk.Now, Keys: map[string]string{"key-1": testSecret}})
			cfg := ivvy.Config{Endpoint: url, APIKey: "key-1", APISecret: testSecret, Now: clk.Now}
			if tc.setup != nil {
				tc.setup(sim, clk, &cfg)
			}
			c, err := ivvy.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(c)
			if err == nil {
				t.Fatal("call succeeded")
			}
			if got := apierr.Classify(err); got != tc.class {
				t.Fatalf("class %v, want %v (%v)", got, tc.class, err)
			}
			var ie *ivvy.Error
			if !errors.As(err, &ie) || ie.Code() != tc.code {
				t.Fatalf("code of %v, want %d", err, tc.code)
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "IWS") {
				t.Fatal("error carries credentials")
			}
			if ivvy.IsStale(err) != (tc.code == ivvy.CodeStaleRequest) {
				t.Fatalf("IsStale %v for %v", ivvy.IsStale(err), err)
			}
		})
	}
}

func ping(c *ivvy.Client) error { _, err := c.Ping(context.Background()); return err }

func ptr(s string) *string { return &s }

// validLead is a contact lead with the simulator's default lookup ids.
func validLead(mod func(*ivvy.LeadInput)) ivvy.LeadInput {
	l := ivvy.LeadInput{Name: ptr("Ann O'Neil"), SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1,
		Contact: &ivvy.ContactInput{FirstName: ptr("Ann"), LastName: ptr("O'Neil"), Email: ptr("ann@example.com"), ExternalID: ptr("c1")}}
	if mod != nil {
		mod(&l)
	}
	return l
}

func TestLeadWriteAndReadBack(t *testing.T) {
	ctx := context.Background()
	_, url := newSim(t, ivvysim.Options{LeadFilters: ivvysim.LeadFiltersHonoured})
	c := newClient(t, url, nil)
	id, err := c.AddOrUpdateLead(ctx, validLead(func(l *ivvy.LeadInput) {
		l.CustomFields = []ivvy.LeadCustomField{{FieldID: 101, FieldValue: "teal"}}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddOrUpdateLead(ctx, ivvy.LeadInput{ID: id, Description: ptr("from the sync")}); err != nil {
		t.Fatal(err)
	}
	p, err := c.GetLeadList(ctx, ivvy.ListQuery{PerPage: 10, Filter: map[string]any{"id": id}})
	if err != nil || len(p.Results) != 1 {
		t.Fatalf("%v %+v", err, p)
	}
	l := p.Results[0]
	if int64(l.ID) != id || l.Contact == nil || l.Contact.Email != "ann@example.com" || l.Description != "from the sync" ||
		len(l.CustomFields) != 1 || l.CustomFields[0].Value != "teal" || l.Modified().IsZero() || l.StageName != "New" {
		t.Fatalf("lead read back: %+v", l)
	}
}

func TestLookupPagesThroughClampedPages(t *testing.T) {
	sim, url := newSim(t, ivvysim.Options{PerPageCap: 2})
	items := make([]ivvysim.LookupItem, 7)
	for i := range items {
		items[i] = ivvysim.LookupItem{ID: int64(i + 1), Name: "S" + string(rune('a'+i))}
	}
	sim.SeedLookups(ivvysim.ListSources, items)
	got, err := newClient(t, url, nil).Lookup(context.Background(), ivvy.LeadSources)
	if err != nil || len(got) != 7 || got[6].Name != "Sg" {
		t.Fatalf("%v %+v", err, got)
	}
	if n := sim.Stats().ByAction["crm.getLeadSourceList"]; n != 4 {
		t.Fatalf("%d requests for 7 items at 2 per page", n)
	}
}

func TestBatchRunProgressResults(t *testing.T) {
	ctx := context.Background()
	_, url := newSim(t, ivvysim.Options{BatchProgressSteps: 2})
	c := newClient(t, url, nil)
	jobs := []ivvy.Job{
		{Namespace: "contact", Action: "addOrUpdateLead", Params: validLead(nil)},
		{Namespace: "contact", Action: "addOrUpdateLead", Params: ivvy.LeadInput{ID: 424242, Description: ptr("x")}},
	}
	async, err := c.RunBatch(ctx, jobs, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.BatchResults(ctx, async); apierr.Classify(err) != apierr.Permanent {
		t.Fatalf("results before done: %v", err)
	}
	for p := 0; p < 100; {
		if p, err = c.BatchProgress(ctx, async); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.BatchResults(ctx, async)
	if err != nil || len(res) != 2 {
		t.Fatalf("%v %d", err, len(res))
	}
	if res[0].Err() != nil || res[0].ID() == 0 || !ivvy.IsNotFound(res[1].Err()) {
		t.Fatalf("job results: %v %d %v", res[0].Err(), res[0].ID(), res[1].Err())
	}
	tooMany := make([]ivvy.Job, ivvy.MaxBatchJobs+1)
	if _, err := c.RunBatch(ctx, tooMany, ""); err == nil {
		t.Fatal("201 jobs accepted")
	}
}

// tamper is a transport that changes the body after the client signed it,
// and hands the request straight to the simulator.
type tamper struct {
	h      http.Handler
	mutate func(body []byte) []byte
	fixMD5 bool // recompute Content-MD5 for the altered body (an attacker who knows MD5 but not the secret)
}

func (tr tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	body = tr.mutate(body)
	r2 := httptest.NewRequest(r.Method, r.URL.RequestURI(), bytes.NewReader(body))
	r2.Header = r.Header.Clone()
	if tr.fixMD5 {
		r2.Header.Set("Content-MD5", ivvy.ContentMD5(body))
	}
	w := httptest.NewRecorder()
	tr.h.ServeHTTP(w, r2)
	return w.Result(), nil
}

// FuzzSimulatorRejectsBodyAlteredAfterSigning: whatever the body and
// whatever the alteration, the simulator never accepts a request whose body
// changed after it was signed — with the original Content-MD5 or with one
// recomputed for the new body.
func FuzzSimulatorRejectsBodyAlteredAfterSigning(f *testing.F) {
	f.Add([]byte(`{"example":"body"}`), uint16(3), byte('X'), false)
	f.Add([]byte(`{"id":5001,"description":"x"}`), uint16(0), byte(' '), true)
	f.Add([]byte(``), uint16(0), byte('{'), true)
	f.Fuzz(func(t *testing.T, body []byte, pos uint16, b byte, fixMD5 bool) {
		mutate := func(in []byte) []byte {
			out := append([]byte(nil), in...)
			i := int(pos) % (len(out) + 1)
			if i < len(out) && out[i] != b {
				out[i] = b // replace a byte
				return out
			}
			return append(out[:i], append([]byte{b}, out[i:]...)...) // or insert one
		}
		if bytes.Equal(mutate(body), body) {
			t.Skip()
		}
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		sim := ivvysim.New(ivvysim.Options{Keys: map[string]string{"key-1": testSecret}, Now: func() time.Time { return now }})
		defer sim.Close()
		c, err := ivvy.New(ivvy.Config{Endpoint: "http://sim.test", APIKey: "key-1", APISecret: testSecret,
			Now:        func() time.Time { return now },
			HTTPClient: &http.Client{Transport: tamper{h: sim, mutate: mutate, fixMD5: fixMD5}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CallRaw(context.Background(), "test", "ping", body)
		if apierr.Classify(err) != apierr.Auth {
			t.Fatalf("altered body not refused as unauthorized: %v", err)
		}
		if st := sim.Stats(); st.Requests != 0 {
			t.Fatalf("simulator counted %d authenticated requests", st.Requests)
		}
		// The same body unaltered is accepted (the harness is not simply broken).
		c2, _ := ivvy.New(ivvy.Config{Endpoint: "http://sim.test", APIKey: "key-1", APISecret: testSecret,
			Now:        func() time.Time { return now },
			HTTPClient: &http.Client{Transport: tamper{h: sim, mutate: func(b []byte) []byte { return b }}}})
		if _, err := c2.CallRaw(context.Background(), "test", "ping", body); apierr.Classify(err) == apierr.Auth {
			t.Fatalf("unaltered request refused: %v", err)
		}
	})
}
