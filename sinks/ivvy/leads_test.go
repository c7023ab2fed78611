package ivvy

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/ivvy"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

var defaults = Defaults{Source: "Website", Type: "Conference", Stage: "new", Quality: "Warm", Industry: "Other"}

type countingGate struct{ n atomic.Int64 }

func (g *countingGate) Wait(context.Context) error { g.n.Add(1); return nil }

func newSink(t *testing.T, opts ivvysim.Options, mod func(*Config)) (*LeadSink, *ivvysim.Server, *countingGate) {
	t.Helper()
	sim := ivvysim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); srv.Close() })
	gate := &countingGate{}
	c, err := ivvy.New(ivvy.Config{Endpoint: srv.URL, APIKey: ivvysim.DefaultKey, APISecret: ivvysim.DefaultSecret, Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Client: c, Defaults: defaults}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewLeadSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, sim, gate
}

func rec(key, email string, fields map[string]string) *pipeline.Record {
	f := map[string]string{"contact.firstName": "Ann", "contact.lastName": "Lee", "contact.email": email}
	for k, v := range fields {
		if v == "<absent>" {
			delete(f, k)
			continue
		}
		f[k] = v
	}
	return &pipeline.Record{Key: key, Fields: f, NaturalKeys: map[string]string{"contact.email": email}}
}

func write(t *testing.T, s *LeadSink, recs ...*pipeline.Record) []pipeline.Outcome {
	t.Helper()
	return s.Write(context.Background(), recs)
}

func TestCreateThenUpdate(t *testing.T) {
	s, sim, gate := newSink(t, ivvysim.Options{}, nil)
	out := write(t, s, rec("c1", "ann@example.com", map[string]string{"customFields.101": "teal", "contact.phone": "555-0100"}))
	if out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	id, _ := strconv.ParseInt(out[0].TargetID, 10, 64)
	l, ok := sim.LeadByID(id)
	if !ok || l.CustomFields[101] != "teal" || l.Name != "Ann Lee" || l.StageID != 1 || l.QualityID != 2 || l.IndustryID != 4 {
		t.Fatalf("lead %+v", l)
	}
	c, _ := sim.ContactByID(l.ContactID)
	if c.ExternalID != "c1" || c.Email != "ann@example.com" || c.Phone != "555-0100" {
		t.Fatalf("contact %+v", c)
	}
	wantLinks := []pipeline.Key{
		{Vendor: "ivvy", Entity: "lead", Kind: "email", Value: "ann@example.com"},
		{Vendor: "ivvy", Entity: "lead", Kind: "external", Value: "c1"},
	}
	if fmt.Sprint(out[0].Links) != fmt.Sprint(wantLinks) {
		t.Fatalf("links %v", out[0].Links)
	}

	// A later partial update by id: description and a changed phone.
	r := &pipeline.Record{Key: "c1", TargetID: out[0].TargetID, Fields: map[string]string{"description": "vip", "contact.phone": "555-0199", "customFields.101": "red"}}
	out = write(t, s, r)
	if out[0].Err != nil || out[0].TargetID != strconv.FormatInt(id, 10) {
		t.Fatalf("%+v", out[0])
	}
	l, _ = sim.LeadByID(id)
	c, _ = sim.ContactByID(l.ContactID)
	if l.Description != "vip" || c.Phone != "555-0199" || l.CustomFields[101] != "red" || len(sim.Leads()) != 1 || len(sim.Contacts()) != 1 {
		t.Fatalf("after update: lead %+v contact %+v", l, c)
	}
	if st := sim.Stats(); int64(st.Requests) != gate.n.Load() {
		t.Fatalf("%d requests, gate waited %d times", st.Requests, gate.n.Load())
	}
}

func TestUpdateOfContactOfAKnownLeadLearnsTheContactID(t *testing.T) {
	cases := []struct {
		name string
		opts ivvysim.Options
	}{
		{"filter honoured", ivvysim.Options{LeadFilters: ivvysim.LeadFiltersHonoured}},
		{"filter ignored: scan", ivvysim.Options{IgnoreLeadFilters: true, PerPageCap: 2}},
		{"filter refused: scan", ivvysim.Options{LeadFilters: ivvysim.LeadFiltersRefused, PerPageCap: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, sim, _ := newSink(t, tc.opts, nil)
			var target int64
			for i := range 5 {
				cid := sim.SeedContact(ivvysim.Contact{FirstName: "P", LastName: strconv.Itoa(i), Email: fmt.Sprintf("p%d@example.com", i)})
				id := sim.SeedLead(ivvysim.Lead{Name: "P", SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
				if i == 3 {
					target = id
				}
			}
			r := &pipeline.Record{Key: "k", TargetID: strconv.FormatInt(target, 10), Fields: map[string]string{"contact.lastName": "Changed"}}
			if out := write(t, s, r); out[0].Err != nil {
				t.Fatal(out[0].Err)
			}
			l, _ := sim.LeadByID(target)
			if c, _ := sim.ContactByID(l.ContactID); c.LastName != "Changed" || c.Email != "p3@example.com" {
				t.Fatalf("contact %+v", c)
			}
		})
	}
}

func TestDeletedLeadIsCreatedAgain(t *testing.T) {
	cases := []struct {
		name   string
		fields map[string]string
		code   int // the specific code that revealed the deletion, 0 = found by lookup
	}{
		{"lead fields only: 24216", map[string]string{"description": "again"}, ivvysim.CodeLeadNotFound},
		// The lead's contact is found by our externalId (it outlives the
		// lead), so the deletion shows when the update answers 24216.
		{"contact fields: 24216", map[string]string{"description": "again", "contact.phone": "1"}, ivvysim.CodeLeadNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, sim, _ := newSink(t, ivvysim.Options{}, nil)
			first := write(t, s, rec("c1", "gone@example.com", nil))[0]
			id, _ := strconv.ParseInt(first.TargetID, 10, 64)
			sim.DeleteLead(id)
			r := &pipeline.Record{Key: "c1", TargetID: first.TargetID, Fields: tc.fields,
				NaturalKeys: map[string]string{"contact.email": "gone@example.com"}}
			out := write(t, s, r)[0]
			if out.Err != nil || out.TargetID == first.TargetID || len(sim.Leads()) != 1 || len(sim.Contacts()) != 1 {
				t.Fatalf("%+v leads %d contacts %d", out, len(sim.Leads()), len(sim.Contacts()))
			}
			if l := sim.Leads()[0]; l.Description != "again" {
				t.Fatalf("lead %+v", l)
			}
			if got := sim.Stats().BySpecific[ivvysim.CodeLeadNotFound]; (tc.code != 0) != (got == 1) {
				t.Fatalf("24216 answered %d times", got)
			}
		})
	}
}

// A create whose answer is lost (connection dropped after iVvy stored it)
// is retried by the pipeline; the retry finds the lead instead of adding a
// second one, also when iVvy ignores or refuses the lead filter.
func TestLostCreateAnswerDoesNotDuplicate(t *testing.T) {
	for _, mode := range []ivvysim.LeadFilterMode{ivvysim.LeadFiltersHonoured, ivvysim.LeadFiltersIgnored, ivvysim.LeadFiltersRefused} {
		t.Run(fmt.Sprintf("lead filter mode %d", mode), func(t *testing.T) {
			s, sim, _ := newSink(t, ivvysim.Options{LeadFilters: mode}, nil)
			sim.SeedLead(ivvysim.Lead{Name: "other", ContactID: sim.SeedContact(ivvysim.Contact{FirstName: "O", LastName: "O", Email: "o@example.com"})})
			sim.Script("contact.addOrUpdateLead", ivvysim.FaultDropAfterCommit)
			r := rec("c9", "lost@example.com", nil)
			out := write(t, s, r)[0]
			if out.Err == nil || errors.Is(out.Err, pipeline.ErrPermanent) {
				t.Fatalf("lost answer: %v", out.Err)
			}
			out = write(t, s, r)[0]
			if out.Err != nil {
				t.Fatal(out.Err)
			}
			leads := sim.LeadsByEmail("lost@example.com")
			if len(leads) != 1 || out.TargetID != strconv.FormatInt(leads[0].ID, 10) {
				t.Fatalf("leads %+v outcome %+v", leads, out)
			}
		})
	}
}

func TestPerRecordOutcomes(t *testing.T) {
	s, sim, _ := newSink(t, ivvysim.Options{}, nil)
	recs := []*pipeline.Record{
		rec("a", "a@example.com", nil),
		rec("b", "b@example.com", map[string]string{"stageName": "No Such Stage"}),
		rec("c", "c@example.com", map[string]string{"contact.lastName": "<absent>"}),
		rec("d", "d@example.com", map[string]string{"stageName": "Qualified", "type": "Wedding", "subtypeName": "Reception"}),
		rec("e", "e@example.com", map[string]string{"customFields.abc": "x"}),
	}
	out := write(t, s, recs...)
	for i, want := range []string{"", "lookup", "23017", "", "mapping"} {
		var pe *pipeline.PermanentError
		switch {
		case want == "" && out[i].Err != nil:
			t.Errorf("record %d: %v", i, out[i].Err)
		case want != "" && (!errors.As(out[i].Err, &pe) || pe.Code != want):
			t.Errorf("record %d: %v, want permanent %s", i, out[i].Err, want)
		}
	}
	d := sim.LeadsByEmail("d@example.com")
	if len(d) != 1 || d[0].StageID != 3 || d[0].TypeID != 2 || d[0].SubtypeID != 22 || len(sim.Leads()) != 2 {
		t.Fatalf("leads %+v", sim.Leads())
	}
}

func TestRateLimitIsRetryAfter(t *testing.T) {
	s, sim, _ := newSink(t, ivvysim.Options{}, nil)
	sim.Script("contact.getContactList", ivvysim.Fault429)
	out := write(t, s, rec("a", "a@example.com", nil))[0]
	var ra *pipeline.RetryAfterError
	if !errors.As(out.Err, &ra) || ra.After <= 0 || len(sim.Leads()) != 0 {
		t.Fatalf("%v", out.Err)
	}
	if out = write(t, s, rec("a", "a@example.com", nil))[0]; out.Err != nil {
		t.Fatal(out.Err)
	}
}

func TestBatchModeForBackfills(t *testing.T) {
	s, sim, _ := newSink(t, ivvysim.Options{BatchProgressSteps: 1}, func(c *Config) { c.BatchMin = 3; c.BatchPoll = 1 })
	recs := make([]*pipeline.Record, 7)
	for i := range recs {
		recs[i] = rec(fmt.Sprintf("k%d", i), fmt.Sprintf("b%d@example.com", i), nil)
	}
	recs[4].Fields["stageId"] = "x" // ignored key
	recs[5].Fields["contact.email"] = "broken"
	out := write(t, s, recs...)
	for i, o := range out {
		if (i == 5) != (o.Err != nil) {
			t.Fatalf("record %d: %v", i, o.Err)
		}
	}
	st := sim.Stats()
	if st.ByAction["batch.run"] != 2 || st.ByAction["contact.addOrUpdateLead"] != 0 || len(sim.Leads()) != 6 {
		t.Fatalf("stats %+v leads %d", st.ByAction, len(sim.Leads()))
	}
	// Replaying the backfill creates nothing new.
	for _, r := range recs {
		delete(r.Fields, "contact.phone")
	}
	write(t, s, recs...)
	if len(sim.Leads()) != 6 || len(sim.Contacts()) != 6 {
		t.Fatalf("replay duplicated: %d leads %d contacts", len(sim.Leads()), len(sim.Contacts()))
	}
}

func TestCheckDefaults(t *testing.T) {
	s, _, _ := newSink(t, ivvysim.Options{}, nil)
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	bad, _, _ := newSink(t, ivvysim.Options{}, func(c *Config) { c.Defaults.Stage = "Nope"; c.Defaults.Industry = "" })
	err := bad.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "defaults.stage") || !strings.Contains(err.Error(), "defaults.industry") {
		t.Fatalf("%v", err)
	}
}

// TestCheckWaitsOutATransientOutage: an instance that starts while iVvy
// answers 5xx starts once iVvy answers again; an outage longer than
// CheckWait still fails the check.
func TestCheckWaitsOutATransientOutage(t *testing.T) {
	s, sim, _ := newSink(t, ivvysim.Options{}, nil)
	sim.Script("crm.getLeadStageList", ivvysim.Fault503, ivvysim.Fault500)
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("check after a short outage: %v", err)
	}
	if n := sim.Stats().ByAction["crm.getLeadStageList"]; n != 3 {
		t.Fatalf("stage list requested %d times, want 3 (two failures, then the list)", n)
	}
	long, sim2, _ := newSink(t, ivvysim.Options{}, func(c *Config) { c.CheckWait = 300 * time.Millisecond })
	faults := make([]ivvysim.Fault, 20)
	for i := range faults {
		faults[i] = ivvysim.Fault503
	}
	sim2.Script("crm.getLeadQualityList", faults...)
	if err := long.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "defaults.quality") {
		t.Fatalf("check during a long outage: %v", err)
	}
}
