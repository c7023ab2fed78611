package sharpspring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

func newSink(t *testing.T, opts sharpspringsim.Options) (*LeadSink, *sharpspringsim.Server) {
	t.Helper()
	opts.Accounts = map[string]string{"1": "k"}
	opts.RateLimitPerSecond = -1
	sim := sharpspringsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); srv.Close() })
	c, err := sharpspring.New(sharpspring.Config{Endpoint: srv.URL + "/pubapi/v1.2/", AccountID: "1", SecretKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	return NewLeadSink(c, nil), sim
}

func rec(email string, fields map[string]string) *pipeline.Record {
	f := map[string]string{"emailAddress": email}
	for k, v := range fields {
		f[k] = v
	}
	return &pipeline.Record{Key: email, Fields: f, NaturalKeys: map[string]string{"emailAddress": email}}
}

func TestKnownIDDeletedInSharpSpringIsCreatedAgain(t *testing.T) {
	s, sim := newSink(t, sharpspringsim.Options{})
	r := rec("gone@example.com", map[string]string{"firstName": "Gone"})
	r.TargetID = "88038599999" // an id SharpSpring no longer has
	out := s.Write(context.Background(), []*pipeline.Record{r})
	if out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	l, ok := sim.LeadByEmail("gone@example.com")
	if !ok || out[0].TargetID != strconv.FormatInt(l.ID, 10) {
		t.Fatalf("outcome %+v, lead %v", out[0], ok)
	}
	st := sim.Stats()
	if st.ErrorsByCode[404] != 1 || st.ByMethod["createLeads"] != 1 {
		t.Fatalf("want update → 404 → create, got %+v %+v", st.ByMethod, st.ErrorsByCode)
	}
}

func TestUnchangedUpdateAnswered302IsSuccess(t *testing.T) {
	s, sim := newSink(t, sharpspringsim.Options{})
	id := sim.SeedLead(map[string]string{"emailAddress": "same@example.com", "firstName": "Same"})
	r := rec("same@example.com", map[string]string{"firstName": "Same"})
	r.TargetID = strconv.FormatInt(id, 10)
	out := s.Write(context.Background(), []*pipeline.Record{r})
	if out[0].Err != nil || sim.Stats().ErrorsByCode[302] != 1 {
		t.Fatalf("outcome %+v, codes %v", out[0], sim.Stats().ErrorsByCode)
	}
}

// onlyRefused fails t unless out holds one failure, of the record at bad:
// a permanent error with SharpSpring's code.
func onlyRefused(t *testing.T, out []pipeline.Outcome, bad int, code string) {
	t.Helper()
	for i, o := range out {
		if (i == bad) != (o.Err != nil) {
			t.Fatalf("outcome %d = %v", i, o.Err)
		}
	}
	var pe *pipeline.PermanentError
	if !errors.As(out[bad].Err, &pe) || pe.Code != code {
		t.Fatalf("record %d refused with %#v, want a permanent error with code %s", bad, out[bad].Err, code)
	}
}

func TestPerObjectErrorsFailOnlyTheirObject(t *testing.T) {
	s, sim := newSink(t, sharpspringsim.Options{})
	recs := make([]*pipeline.Record, 5)
	for i := range recs {
		recs[i] = rec(fmt.Sprintf("p%d@example.com", i), map[string]string{"firstName": "P"})
	}
	recs[2].Fields["leadStatus"] = "not-a-status"
	onlyRefused(t, s.Write(context.Background(), recs), 2, "205")
	if n := len(sim.Leads()); n != 4 || sim.Stats().ByMethod["createLeads"] != 1 {
		t.Fatalf("%d leads, %d creates", n, sim.Stats().ByMethod["createLeads"])
	}
}

func TestRequestRefusedAsAWholeIsSplitToTheBadObject(t *testing.T) {
	sim := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": "k"}, RateLimitPerSecond: -1})
	// In front of the simulator: any request carrying the poisoned object is
	// refused as a whole with an API-level 205, as SharpSpring does for a
	// malformed object.
	var requests int
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte("poison@example.com")) {
			io.WriteString(w, `{"result":null,"error":{"code":205,"message":"Invalid parameters","data":{"params":[]}},"id":"x"}`)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sim.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(front)
	defer srv.Close()
	c, _ := sharpspring.New(sharpspring.Config{Endpoint: srv.URL + "/pubapi/v1.2/", AccountID: "1", SecretKey: "k"})
	s := NewLeadSink(c, nil)
	recs := make([]*pipeline.Record, 8)
	for i := range recs {
		recs[i] = rec(fmt.Sprintf("s%d@example.com", i), nil)
	}
	recs[5] = rec("poison@example.com", nil)
	onlyRefused(t, s.Write(context.Background(), recs), 5, "205")
	if n := len(sim.Leads()); n != 7 {
		t.Fatalf("%d leads written, want the 7 good ones", n)
	}
	// 8 → 4+4 → (2+2) → (1+1): 1 + 2 + 2 + 2 requests.
	if requests != 7 {
		t.Fatalf("%d requests, want 7 (halving)", requests)
	}
}

func TestQuotaIsNotTheRecordsFault(t *testing.T) {
	s, sim := newSink(t, sharpspringsim.Options{})
	recs := []*pipeline.Record{rec("q1@example.com", nil), rec("q2@example.com", nil)}
	sim.Script("createLeads", sharpspringsim.Fault106)
	out := s.Write(context.Background(), recs)
	var q *pipeline.QuotaError
	for i, o := range out {
		if !errors.As(o.Err, &q) || errors.Is(o.Err, pipeline.ErrPermanent) {
			t.Fatalf("outcome %d = %v, want a quota error, not a dead letter", i, o.Err)
		}
	}
}

func TestTransientFailureIsReturnedForRetry(t *testing.T) {
	s, sim := newSink(t, sharpspringsim.Options{})
	sim.Script("createLeads", sharpspringsim.Fault500)
	out := s.Write(context.Background(), []*pipeline.Record{rec("t@example.com", nil)})
	if out[0].Err == nil || errors.Is(out[0].Err, pipeline.ErrPermanent) {
		t.Fatalf("a 500 must be transient, got %v", out[0].Err)
	}
	out = s.Write(context.Background(), []*pipeline.Record{rec("t@example.com", nil)})
	if out[0].Err != nil {
		t.Fatalf("retry: %v", out[0].Err)
	}
}

func TestRateLimitedIsRetryAfterASecond(t *testing.T) {
	s, sim := newSink(t, sharpspringsim.Options{})
	sim.Script("createLeads", sharpspringsim.Fault107)
	out := s.Write(context.Background(), []*pipeline.Record{rec("r@example.com", nil)})
	var ra *pipeline.RetryAfterError
	if !errors.As(out[0].Err, &ra) || ra.After < 1e9 {
		t.Fatalf("107 = %#v", out[0].Err)
	}
}

// SharpSpring answers an update giving a lead an email another lead has with
// success and changes nothing (its documented "API bug"): the record is
// dead-lettered with a reason instead of being settled as written, and an
// email change to a free address in the same batch goes through.
func TestAnEmailOfAnotherLeadIsRefusedNotReportedAsWritten(t *testing.T) {
	s, sim := newSink(t, sharpspringsim.Options{})
	a := sim.SeedLead(map[string]string{"emailAddress": "ann@example.com", "firstName": "Ann"})
	b := sim.SeedLead(map[string]string{"emailAddress": "bob@example.com", "firstName": "Bob"})
	c := sim.SeedLead(map[string]string{"emailAddress": "cy@example.com", "firstName": "Cy"})
	taken := &pipeline.Record{Key: "ka", TargetID: strconv.FormatInt(a, 10),
		Fields: map[string]string{"emailAddress": "BOB@example.com", "firstName": "Annie"}}
	free := &pipeline.Record{Key: "kc", TargetID: strconv.FormatInt(c, 10),
		Fields: map[string]string{"emailAddress": "cyrus@example.com"}}
	out := s.Write(context.Background(), []*pipeline.Record{taken, free})
	var pe *pipeline.PermanentError
	if !errors.As(out[0].Err, &pe) || pe.Code != "email-taken" {
		t.Errorf("outcome of the taken email = %+v; want a permanent email-taken error", out[0])
	}
	if out[0].Err != nil && !strings.Contains(out[0].Err.Error(), strconv.FormatInt(b, 10)) {
		t.Errorf("the error %q does not name the lead that has the email", out[0].Err)
	}
	if out[1].Err != nil {
		t.Errorf("outcome of the free email = %v", out[1].Err)
	}
	if l, _ := sim.LeadByEmail("ann@example.com"); l.ID != a || *l.Fields["firstName"] != "Ann" {
		t.Errorf("lead %d changed: %+v", a, l.Fields)
	}
	if l, ok := sim.LeadByEmail("cyrus@example.com"); !ok || l.ID != c {
		t.Errorf("the free email change did not land: %+v %v", l, ok)
	}
	if n := sim.Stats().ByMethod["getLeads"]; n != 1 {
		t.Errorf("%d getLeads for one batch, want 1", n)
	}
}
