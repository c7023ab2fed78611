package leadexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// simEnv is a LeadExec simulator over real HTTP and a client of it.
type simEnv struct {
	sim *leadexecsim.Server
	c   *leadexec.Client
}

func newSimEnv(t *testing.T, opts leadexecsim.Options) simEnv {
	t.Helper()
	sim := leadexecsim.NewServer(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := leadexec.New(leadexec.Config{APIURL: srv.URL, LeadsURL: srv.URL, DataURL: srv.URL,
		Key: leadexecsim.DefaultKey, ClientID: leadexecsim.DefaultClientID, ClientSecret: leadexecsim.DefaultClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	return simEnv{sim: sim, c: c}
}

func testSource() leadexec.Source {
	return leadexec.Source{VID: leadexecsim.DefaultVID, LID: leadexecsim.DefaultLID, AID: leadexecsim.DefaultAID,
		APIKey: leadexecsim.DefaultPostingKey}
}

func (e simEnv) leadSink(t *testing.T, version string, logs *bytes.Buffer, tweak ...func(*LeadSinkConfig)) *LeadSink {
	t.Helper()
	cfg := LeadSinkConfig{Source: testSource(), Version: version, OverMaxWait: time.Hour}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := NewLeadSink(cfg, e.c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var leadSeq int

// leadRec is a record of a new lead in LeadExec field names.
func leadRec(fields map[string]string) *pipeline.Record {
	leadSeq++
	r := &pipeline.Record{Key: fmt.Sprintf("lead-%d", leadSeq), Fields: map[string]string{}, NaturalKeys: map[string]string{}}
	for k, v := range fields {
		if k == "Email" {
			r.NaturalKeys[k] = v
		}
		r.Fields[k] = v
	}
	return r
}

func person(n int, extra ...string) map[string]string {
	f := map[string]string{"FirstName": "Ann", "LastName": fmt.Sprintf("Lee%d", n), "Email": fmt.Sprintf("ann%d@example.com", n),
		"PrimaryPhone": fmt.Sprintf("512555%04d", n), "State": "TX", "City": "Austin"}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "<absent>" {
			delete(f, extra[i])
			continue
		}
		f[extra[i]] = extra[i+1]
	}
	return f
}

// code returns the dead-letter code of a permanent outcome ("" when the
// outcome is not permanent).
func code(o pipeline.Outcome) string {
	var pe *pipeline.PermanentError
	if errors.As(o.Err, &pe) {
		return pe.Code
	}
	return ""
}

// TestLeadSinkResponseTypes posts one V2 batch whose leads LeadExec answers
// with each kind of ResponseType, then checks every record's outcome.
func TestLeadSinkResponseTypes(t *testing.T) {
	for _, version := range []string{V2, V1} {
		t.Run(version, func(t *testing.T) {
			e := newSimEnv(t, leadexecsim.Options{})
			camp := leadexecsim.DefaultCampaigns()[0]
			camp.AllowedStates = []string{"TX", "CA"}
			camp.DayMax = 3
			e.sim.SetCampaign(camp)
			existing := e.sim.AddLead(leadexecsim.StoredLead{Fields: person(99)})
			logs := &bytes.Buffer{}
			s := e.leadSink(t, version, logs)

			recs := []*pipeline.Record{
				leadRec(person(1)),                                        // accepted
				leadRec(person(99, "FirstName", "Annie")),                 // duplicate of the stored lead
				leadRec(person(2, "PrimaryPhone", "<absent>")),            // data errors: required field missing
				leadRec(person(3, "Email", "not-an-address")),             // data errors: invalid value
				leadRec(person(4, "State", "NY")),                         // outside criteria
				leadRec(person(5)),                                        // accepted (2 of 3)
				leadRec(person(6)),                                        // accepted (3 of 3)
				leadRec(person(7)),                                        // over the daily maximum
				{Key: "known", TargetID: "5000000077", Fields: person(8)}, // known: not posted
			}
			before := e.sim.RequestCounts()
			out := s.Write(context.Background(), recs)
			if len(out) != len(recs) {
				t.Fatalf("%d outcomes for %d records", len(out), len(recs))
			}
			stored := map[string]int64{}
			for _, l := range e.sim.Leads() {
				stored[l.Fields["Email"]] = l.UID
			}
			for _, i := range []int{0, 5, 6} {
				if out[i].Err != nil || out[i].Skip != "" || out[i].TargetID != strconv.FormatInt(stored[recs[i].Fields["Email"]], 10) {
					t.Errorf("record %d: %+v, want accepted with the new lead's id", i, out[i])
				}
			}
			if o := out[1]; o.Err != nil || o.TargetID != strconv.FormatInt(existing, 10) {
				t.Errorf("duplicate: %+v, want success with the existing id %d", o, existing)
			}
			for i, want := range map[int]string{2: "PrimaryPhone", 3: "Email"} {
				if code(out[i]) != "Data_Errors" || !strings.Contains(out[i].Err.Error(), want) {
					t.Errorf("record %d: %+v, want Data_Errors naming %s", i, out[i], want)
				}
			}
			if code(out[4]) != "Outside_Criteria" || !strings.Contains(out[4].Err.Error(), "NY") {
				t.Errorf("outside criteria: %+v", out[4])
			}
			var ra *pipeline.RetryAfterError
			if !errors.As(out[7].Err, &ra) || ra.After != time.Hour || errors.Is(out[7].Err, pipeline.ErrPermanent) ||
				!strings.Contains(out[7].Err.Error(), "Post_Over_Max") {
				t.Errorf("over max: %+v, want a retry after OverMaxWait", out[7])
			}
			if o := out[8]; o.Err != nil || o.Skip != SkipNoUpdate || o.TargetID != "5000000077" {
				t.Errorf("known lead: %+v, want skipped", o)
			}
			if n := len(e.sim.Leads()); n != 4 {
				t.Errorf("LeadExec holds %d leads, want 4", n)
			}
			after := e.sim.RequestCounts()
			posts := after[leadexecsim.EndpointInsertV2] - before[leadexecsim.EndpointInsertV2]
			if version == V1 {
				posts = after[leadexecsim.EndpointInsertV1] - before[leadexecsim.EndpointInsertV1]
			}
			if want := map[string]int{V2: 1, V1: 8}[version]; posts != want {
				t.Errorf("%d receiver requests, want %d", posts, want)
			}
			if strings.Contains(logs.String(), leadexecsim.DefaultPostingKey) {
				t.Error("the api-key appeared in the logs")
			}
		})
	}
}

// TestLeadSinkTransientFailures: a 5xx and a post whose answer is lost are
// transient; posting again records the lead once, with its id.
func TestLeadSinkTransientFailures(t *testing.T) {
	e := newSimEnv(t, leadexecsim.Options{})
	s := e.leadSink(t, V2, nil)
	ctx := context.Background()
	recs := []*pipeline.Record{leadRec(person(1)), leadRec(person(2))}

	e.sim.FailNext(leadexecsim.EndpointInsertV2, 1, 503)
	for _, o := range s.Write(ctx, recs) {
		if o.Err == nil || errors.Is(o.Err, pipeline.ErrPermanent) {
			t.Fatalf("5xx: %+v, want a transient error", o)
		}
	}
	if n := len(e.sim.Leads()); n != 0 {
		t.Fatalf("a refused post stored %d leads", n)
	}

	e.sim.DropAfterCommit(leadexecsim.EndpointInsertV2, 1)
	for _, o := range s.Write(ctx, recs) {
		if o.Err == nil || errors.Is(o.Err, pipeline.ErrPermanent) {
			t.Fatalf("dropped answer: %+v, want a transient error", o)
		}
	}
	if n := len(e.sim.Leads()); n != 2 {
		t.Fatalf("the dropped post stored %d leads, want 2", n)
	}
	// The route posts again: LeadExec answers Duplicate_Lead with the ids.
	out := s.Write(ctx, recs)
	for i, o := range out {
		l := e.sim.Leads()[i]
		if o.Err != nil || o.TargetID != strconv.FormatInt(l.UID, 10) {
			t.Fatalf("retry %d: %+v, want the stored id %d", i, o, l.UID)
		}
	}
	if n := len(e.sim.Leads()); n != 2 {
		t.Fatalf("LeadExec holds %d leads after the retry, want 2", n)
	}

	e.sim.RateLimitNext(leadexecsim.EndpointInsertV2, 1, 3*time.Second)
	var ra *pipeline.RetryAfterError
	if o := s.Write(ctx, []*pipeline.Record{leadRec(person(3))})[0]; !errors.As(o.Err, &ra) || ra.After != 3*time.Second {
		t.Fatalf("429: %+v", o)
	}
}

// TestLeadSinkSplitsRefusedRequests: leads are posted in requests of at
// most MaxLeadsPerPost; a request refused as a whole (HTTP 400) is split
// until it passes, so no lead is dead-lettered for another's sake.
func TestLeadSinkSplitsRefusedRequests(t *testing.T) {
	e := newSimEnv(t, leadexecsim.Options{MaxV2Leads: 2})
	s := e.leadSink(t, V2, nil, func(c *LeadSinkConfig) { c.MaxLeadsPerPost = 3 })
	var recs []*pipeline.Record
	for i := range 7 {
		recs = append(recs, leadRec(person(10+i)))
	}
	for i, o := range s.Write(context.Background(), recs) {
		if o.Err != nil || o.TargetID == "" {
			t.Fatalf("record %d: %+v", i, o)
		}
	}
	if n := len(e.sim.Leads()); n != 7 {
		t.Fatalf("LeadExec holds %d leads, want 7", n)
	}
	// 3+3+1 posted; each 3 refused (400) and split into 1+2.
	if n := e.sim.RequestCount(leadexecsim.EndpointInsertV2); n != 7 {
		t.Fatalf("%d requests, want 7", n)
	}
}

func TestLeadSinkBadAPIKeyKeepsLeads(t *testing.T) {
	e := newSimEnv(t, leadexecsim.Options{})
	s := e.leadSink(t, V2, nil, func(c *LeadSinkConfig) { c.Source.APIKey = "wrong-key-DO-NOT-LOG" })
	o := s.Write(context.Background(), []*pipeline.Record{leadRec(person(1))})[0]
	var ra *pipeline.RetryAfterError
	if !errors.As(o.Err, &ra) || ra.After != time.Minute || errors.Is(o.Err, pipeline.ErrPermanent) {
		t.Fatalf("outcome %+v, want a retry in a minute", o)
	}
	if strings.Contains(o.Err.Error(), "wrong-key-DO-NOT-LOG") {
		t.Fatalf("the api-key is in the error: %v", o.Err)
	}
}

func TestNewLeadSinkChecksItsConfig(t *testing.T) {
	e := newSimEnv(t, leadexecsim.Options{})
	for name, cfg := range map[string]LeadSinkConfig{
		"version": {Source: testSource(), Version: "v3"},
		"vid":     {Source: leadexec.Source{LID: 1, APIKey: "k"}},
		"api-key": {Source: leadexec.Source{VID: 1, LID: 1}},
	} {
		if _, err := NewLeadSink(cfg, e.c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewLeadSink(LeadSinkConfig{Source: leadexec.Source{VID: 1, LID: 1}, Version: V1}, e.c); err != nil {
		t.Errorf("v1 without api-key: %v", err)
	}
}

func TestLeadSinkDisabledCampaignIsPermanent(t *testing.T) {
	e := newSimEnv(t, leadexecsim.Options{})
	if err := e.sim.DisableCampaign(leadexecsim.DefaultAID); err != nil {
		t.Fatal(err)
	}
	o := e.leadSink(t, V2, nil).Write(context.Background(), []*pipeline.Record{leadRec(person(1))})[0]
	if code(o) != "Account_Disabled" {
		t.Fatalf("outcome %+v", o)
	}
}
