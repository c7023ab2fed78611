package getlead

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/getlead"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
)

const (
	token = "gl_sink_test_token"
	key   = "ik_sink_test_key"
)

func newSim(t *testing.T, opts getleadsim.Options) (*getleadsim.Server, *httptest.Server) {
	t.Helper()
	opts.Token, opts.APIKey = token, key
	sim := getleadsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}

func newSink(t *testing.T, mode string, srv *httptest.Server, ledger LedgerStore) *LeadSink {
	t.Helper()
	s, err := NewLeadSink(Config{
		Mode:    mode,
		Classic: getlead.ClassicConfig{BaseURL: srv.URL, Token: token},
		V3:      getlead.V3Config{BaseURL: srv.URL + "/api/v1", APIKey: key},
		Ledger:  ledger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openState(t *testing.T) *checkpoints.Store {
	t.Helper()
	st := testenv.State(t)
	return st
}

var codec = mappings.GetleadLeads{CountryCode: "91"}

// record builds a record the way a route does: the changed fields encoded
// by the Getlead codec, natural keys from the whole lead.
func record(key string, changed, whole mappings.Lead) *pipeline.Record {
	full := mappings.Lead{}
	for k, v := range whole {
		full[k] = v
	}
	for k, v := range changed {
		full[k] = v
	}
	stamps := map[string]time.Time{}
	fields := codec.Encode(changed)
	for f := range fields {
		stamps[f] = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	}
	return &pipeline.Record{Key: key, Fields: fields, Stamps: stamps, NaturalKeys: codec.NaturalKeys(full)}
}

func mustWrite(t *testing.T, s *LeadSink, recs ...*pipeline.Record) []pipeline.Outcome {
	t.Helper()
	out := s.Write(context.Background(), recs)
	for i, o := range out {
		if o.Err != nil {
			t.Fatalf("record %d: %v", i, o.Err)
		}
	}
	return out
}

func TestClassicStatusChangeOverwrites(t *testing.T) {
	sim, srv := newSim(t, getleadsim.Options{})
	s := newSink(t, ModeClassic, srv, nil)
	who := mappings.Lead{mappings.MobilePhone: "+91 98765 43210"}
	out := mustWrite(t, s, record("c1", mappings.Lead{mappings.FirstName: "Asha", mappings.MobilePhone: "+91 98765 43210", mappings.LeadStatus: "New"}, who))
	if len(out[0].Links) == 0 || out[0].Links[0] != mappings.GetleadPhoneKey("+919876543210") {
		t.Fatalf("links %v", out[0].Links)
	}
	mustWrite(t, s, record("c1", mappings.Lead{mappings.LeadStatus: "Qualified"}, who))
	leads := sim.Leads()
	if len(leads) != 1 || leads[0].Status != "Qualified" || leads[0].Name != "Asha" {
		t.Fatalf("leads %+v", leads)
	}
	st := sim.Stats()
	// The second record changed only the status: no contact post.
	if st.ByEndpoint["gl-website-contacts"] != 1 || st.ByEndpoint["gl-status-change-api"] != 2 {
		t.Fatalf("calls %v", st.ByEndpoint)
	}
}

func TestClassicAdditionalFieldsAndClears(t *testing.T) {
	cat, errs := mappings.NewCatalog([]mappings.CatalogField{{Name: "referred_by", Getlead: "Referred_By"}})
	if errs != nil {
		t.Fatal(errs)
	}
	c := mappings.GetleadLeads{Catalog: cat, CountryCode: "91"}
	sim, srv := newSim(t, getleadsim.Options{})
	s := newSink(t, ModeClassic, srv, nil)
	l := mappings.Lead{mappings.MobilePhone: "9876543210", "referred_by": "Ravi", mappings.Company: "Acme"}
	r := &pipeline.Record{Key: "k", Fields: c.Encode(l), NaturalKeys: c.NaturalKeys(l)}
	mustWrite(t, s, r)
	r = &pipeline.Record{Key: "k", Fields: c.Encode(mappings.Lead{mappings.Company: ""}), NaturalKeys: c.NaturalKeys(l)}
	mustWrite(t, s, r)
	got, _ := sim.LeadByPhone("+919876543210")
	if got.Custom["Referred_By"] != "Ravi" || got.Company != "" || got.Source != "crmsync" {
		t.Fatalf("lead %+v", got)
	}
}

func TestClassicEnquiryNotFoundCreatesTheLead(t *testing.T) {
	sim, srv := newSim(t, getleadsim.Options{})
	s := newSink(t, ModeClassic, srv, nil)
	// Only the status changed, but Getlead no longer has the lead.
	mustWrite(t, s, record("c1", mappings.Lead{mappings.LeadStatus: "Won"}, mappings.Lead{mappings.MobilePhone: "9876543210"}))
	l, ok := sim.LeadByPhone("+919876543210")
	if !ok || l.Status != "Won" {
		t.Fatalf("lead %+v %v", l, ok)
	}
	if sim.Stats().Messages[getleadsim.MsgNotFound] != 1 {
		t.Fatalf("want one Enquiry Not Found, got %v", sim.Stats().Messages)
	}
}

func TestLeadWithoutUsablePhoneDeadLettersBeforeGetlead(t *testing.T) {
	for _, mode := range []string{ModeClassic, ModeV3} {
		cases := []struct {
			name string
			rec  *pipeline.Record
		}{
			{"no phone", record("x", mappings.Lead{mappings.FirstName: "No Phone", mappings.Email: "n@example.com"}, nil)},
			{"short phone", &pipeline.Record{Key: "y", Fields: map[string]string{"name": "Short"}, NaturalKeys: map[string]string{"countrycode": "91", "mobileno": "12345"}}},
		}
		for _, tc := range cases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				sim, srv := newSim(t, getleadsim.Options{})
				s := newSink(t, mode, srv, nil)
				good := record("g", mappings.Lead{mappings.MobilePhone: "9876543210"}, nil)
				out := s.Write(context.Background(), []*pipeline.Record{tc.rec, good})
				var pe *pipeline.PermanentError
				if !errors.As(out[0].Err, &pe) || pe.Code != "invalid-phone" {
					t.Fatalf("outcome %v, want permanent invalid-phone", out[0].Err)
				}
				if out[1].Err != nil {
					t.Fatalf("the good record failed too: %v", out[1].Err)
				}
				if n := len(sim.Leads()); n != 1 {
					t.Fatalf("%d leads", n)
				}
			})
		}
	}
}

func TestErrorClasses(t *testing.T) {
	cases := []struct {
		name   string
		mode   string
		script string
		fault  getleadsim.Fault
		rec    *pipeline.Record
		check  func(error) bool
	}{
		{"v3 429 waits retry_after", ModeV3, "leads.by-identifier", getleadsim.Fault429,
			record("a", mappings.Lead{mappings.MobilePhone: "9876543210"}, nil),
			func(err error) bool {
				var ra *pipeline.RetryAfterError
				return errors.As(err, &ra) && ra.After == getleadsim.ScriptedRetryAfter*time.Second
			}},
		{"classic 500 is transient", ModeClassic, "gl-website-contacts", getleadsim.Fault500,
			record("a", mappings.Lead{mappings.MobilePhone: "9876543210"}, nil),
			func(err error) bool { return err != nil && !errors.Is(err, pipeline.ErrPermanent) }},
		{"classic unknown status is permanent", ModeClassic, "", 0,
			record("a", mappings.Lead{mappings.MobilePhone: "9876543210", mappings.LeadStatus: "Bogus"}, nil),
			func(err error) bool {
				var pe *pipeline.PermanentError
				return errors.As(err, &pe) && pe.Code == "check-parameters"
			}},
		{"v3 unknown status is permanent", ModeV3, "", 0,
			record("a", mappings.Lead{mappings.MobilePhone: "9876543210", mappings.LeadStatus: "Bogus"}, nil),
			func(err error) bool {
				var pe *pipeline.PermanentError
				return errors.As(err, &pe) && pe.Code == "unknown-status"
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv := newSim(t, getleadsim.Options{})
			if tc.script != "" {
				sim.Script(tc.script, tc.fault)
			}
			s := newSink(t, tc.mode, srv, nil)
			out := s.Write(context.Background(), []*pipeline.Record{tc.rec})
			if !tc.check(out[0].Err) {
				t.Fatalf("outcome %#v", out[0].Err)
			}
		})
	}
}

func TestV3UpdateKeepsCustomFieldsItDidNotTouch(t *testing.T) {
	cat, errs := mappings.NewCatalog([]mappings.CatalogField{
		{Name: "budget", Getlead: "budget"}, {Name: "city_area", Getlead: "city"}, {Name: "colour", Getlead: "colour"},
	})
	if errs != nil {
		t.Fatal(errs)
	}
	c := mappings.GetleadLeads{Catalog: cat, CountryCode: "91"}
	sim, srv := newSim(t, getleadsim.Options{CustomFields: []string{"budget", "city", "colour"}})
	id := sim.SeedLead(getleadsim.LeadSeed{Name: "Asha", Phones: []string{"+919876543210"}, Custom: map[string]string{"budget": "10", "city": "Kochi"}})
	s := newSink(t, ModeV3, srv, nil)
	whole := mappings.Lead{mappings.MobilePhone: "09876543210"}
	change := mappings.Lead{"colour": "teal", "city_area": "", mappings.LeadStatus: "Contacted"}
	r := &pipeline.Record{Key: "k", Fields: c.Encode(change), NaturalKeys: c.NaturalKeys(whole)}
	out := mustWrite(t, s, r)
	if out[0].TargetID != id {
		t.Fatalf("target id %q, want %q", out[0].TargetID, id)
	}
	l, _ := sim.LeadByPhone("+919876543210")
	if len(l.Custom) != 2 || l.Custom["budget"] != "10" || l.Custom["colour"] != "teal" || l.Status != "Contacted" {
		t.Fatalf("custom %v status %s: want budget kept, colour set, city cleared", l.Custom, l.Status)
	}
	// Known id: GET then PATCH /leads/{id}; the merged set again.
	r = &pipeline.Record{Key: "k", TargetID: id, Fields: c.Encode(mappings.Lead{"budget": "20"}), NaturalKeys: c.NaturalKeys(whole)}
	mustWrite(t, s, r)
	l, _ = sim.LeadByPhone("+919876543210")
	if len(l.Custom) != 2 || l.Custom["budget"] != "20" || l.Custom["colour"] != "teal" {
		t.Fatalf("custom %v", l.Custom)
	}
	if st := sim.Stats(); st.ByEndpoint["leads.get"] != 2 || st.ByEndpoint["leads.update"] != 2 {
		t.Fatalf("calls %v", st.ByEndpoint)
	}
}

func TestV3CreatesFindsByEmailAndAppendsNotes(t *testing.T) {
	sim, srv := newSim(t, getleadsim.Options{})
	byEmail := sim.SeedLead(getleadsim.LeadSeed{Name: "Ravi", Email: "ravi@example.com", Phones: []string{"+919000000001"}})
	s := newSink(t, ModeV3, srv, nil)
	newLead := record("n", mappings.Lead{mappings.FirstName: "Asha", mappings.MobilePhone: "+91 98765 43210", mappings.Description: "first call"}, nil)
	other := record("e", mappings.Lead{mappings.LastName: "Kumar", mappings.FirstName: "Ravi", mappings.MobilePhone: "9111111111"},
		mappings.Lead{mappings.Email: "Ravi@example.com"})
	out := mustWrite(t, s, newLead, other)
	l, ok := sim.LeadByPhone("+919876543210")
	if !ok || out[0].TargetID != l.ID || l.Name != "Asha" || len(l.Notes) != 1 || l.Notes[0] != "first call" {
		t.Fatalf("new lead %+v outcome %+v", l, out[0])
	}
	if out[1].TargetID != byEmail {
		t.Fatalf("email match: %q, want %q", out[1].TargetID, byEmail)
	}
	if l, _ := sim.LeadByPhone("+919000000001"); l.Name != "Ravi Kumar" || len(sim.Leads()) != 2 {
		t.Fatalf("lead found by email %+v, %d leads", l, len(sim.Leads()))
	}
}

// A replay that keeps unchanged fields (or a redelivery after a crash)
// brings the same note text again: the ledger says it was written, so the
// sink appends nothing; a new text is appended.
func TestNoteIsAppendedOnlyWhenItsTextChanged(t *testing.T) {
	for _, mode := range []string{ModeClassic, ModeV3} {
		t.Run(mode, func(t *testing.T) {
			sim, srv := newSim(t, getleadsim.Options{})
			state := openState(t)
			s := newSink(t, mode, srv, state)
			who := mappings.Lead{mappings.MobilePhone: "9876543210"}
			first := record("k", mappings.Lead{mappings.MobilePhone: "9876543210", mappings.Description: "called"}, who)
			mustWrite(t, s, first)
			again := record("k", mappings.Lead{mappings.Description: "called"}, who)
			mustWrite(t, s, again)
			mustWrite(t, s, record("k", mappings.Lead{mappings.Description: "called back"}, who))
			l, _ := sim.LeadByPhone("+919876543210")
			if len(l.Notes) != 2 || l.Notes[1] != "called back" {
				t.Fatalf("notes %q", l.Notes)
			}
		})
	}
}

// routeSetup builds the LeadExec → Getlead route the demo runs.
func routeSetup(t *testing.T, name string, state *checkpoints.Store, s *LeadSink, bus pipeline.ConsumerSource) *pipeline.Runner {
	t.Helper()
	cat, _ := mappings.NewCatalog(nil)
	ru, err := pipeline.NewRunner(pipeline.Route{
		Name: name, From: "leadexec.lead", To: pipeline.Target{Vendor: Vendor, Entity: Entity},
		Mapper: mappings.LeadRoute{From: mappings.LeadExecLeads{Catalog: cat}, To: mappings.GetleadLeads{Catalog: cat, CountryCode: "91"}},
		Sink:   s, Batch: pipeline.BatchPolicy{Linger: 20 * time.Millisecond},
	}, bus, state)
	if err != nil {
		t.Fatal(err)
	}
	return ru
}

func leadexecEvent(t *testing.T, id, phone, name, comments string, at time.Time) pipeline.Event {
	t.Helper()
	ev := pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: id, ChangedAt: at,
		Fields: map[string]string{"FirstName": name, "PrimaryPhone": phone, "Comments": comments}}
	if err := ev.Seal(); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestSamePersonInThreePhoneWritingsIsOneGetleadLead(t *testing.T) {
	ctx := context.Background()
	sim, srv := newSim(t, getleadsim.Options{})
	state := openState(t)
	ru := routeSetup(t, "leadexec-getlead", state, newSink(t, ModeClassic, srv, state), nil)
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, phone := range []string{"+91 98765 43210", "919876543210", "09876543210"} {
		ev := leadexecEvent(t, "le-"+phone, phone, []string{"Asha", "Asha R", "Asha Rao"}[i], "", t0.Add(time.Duration(i)*time.Minute))
		res, err := ru.Apply(ctx, []pipeline.Event{ev})
		if err != nil || res.Written != 1 || len(res.DeadLettered) != 0 {
			t.Fatalf("%s: %+v %v", phone, res, err)
		}
	}
	leads := sim.Leads()
	if len(leads) != 1 || leads[0].Name != "Asha Rao" || leads[0].Phones[0] != "+919876543210" {
		t.Fatalf("leads %+v", leads)
	}
	a, err := state.Lookup(ctx, pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: "id", Value: "le-09876543210"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := state.Lookup(ctx, mappings.GetleadPhoneKey("+919876543210"))
	if err != nil || a != b {
		t.Fatalf("identity: %q vs %q (%v)", a, b, err)
	}
}

func TestReplayOfTheSameEventsAddsNoNote(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, srv := newSim(t, getleadsim.Options{})
	state := openState(t)
	bus := testenv.Bus(t)
	sink := newSink(t, ModeClassic, srv, state)
	live := routeSetup(t, "leadexec-getlead", state, sink, bus)
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	evs := []pipeline.Event{
		leadexecEvent(t, "le-1", "9876543210", "Asha", "wants a demo", t0),
		leadexecEvent(t, "le-2", "9123456789", "Ravi", "call after 5", t0),
	}
	for _, ev := range evs {
		if err := bus.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- live.Run(ctx) }()
	testenv.Eventually(t, "two notes added", func() bool { return sim.Stats().NotesAdded == 2 && live.Stats.Events.Load() == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Replay the stream's events through the route again.
	replay := routeSetup(t, "leadexec-getlead", state, sink, nil)
	if _, err := replay.Apply(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	// And a later event with the same comment but a new name: the contact
	// is updated, the note is not appended again.
	again := leadexecEvent(t, "le-1", "9876543210", "Asha Rao", "wants a demo", t0.Add(time.Hour))
	if _, err := replay.Apply(context.Background(), []pipeline.Event{again}); err != nil {
		t.Fatal(err)
	}
	l, _ := sim.LeadByPhone("+919876543210")
	if st := sim.Stats(); st.NotesAdded != 2 || len(l.Notes) != 1 || l.Name != "Asha Rao" {
		t.Fatalf("notes added %d, lead %+v", st.NotesAdded, l)
	}
}

// typedFields is an account whose custom fields have types, as /meta shows
// them, and the catalog naming them.
func typedFields(t *testing.T) ([]getleadsim.Field, mappings.GetleadLeads) {
	t.Helper()
	fields := []getleadsim.Field{
		{Key: "visit_date", Type: "date"},
		{Key: "call_at", Type: "datetime"},
		{Key: "budget", Type: "select", Options: []getleadsim.Option{{Label: "25000", Value: "_25000"}, {Label: "50000", Value: "_50000"}}},
		{Key: "seats", Type: "number"},
		{Key: "vip", Type: "boolean"},
	}
	var cf []mappings.CatalogField
	for _, f := range fields {
		cf = append(cf, mappings.CatalogField{Name: f.Key, Getlead: f.Key})
	}
	cat, errs := mappings.NewCatalog(cf)
	if errs != nil {
		t.Fatal(errs)
	}
	return fields, mappings.GetleadLeads{Catalog: cat, CountryCode: "91"}
}

// Values reach Getlead written as their field's type from /meta: a date
// field gets YYYY-MM-DD (an RFC 3339 time cut to its UTC date), a date-time
// YYYY-MM-DDTHH:mm:ss, a select its stored value for a label, a number its
// digits, a boolean true/false; the simulator refuses any other spelling.
// Read gives the values back as the record spells them, so a replay sees
// no drift.
func TestV3CustomFieldsAreWrittenAsTheirTypes(t *testing.T) {
	fields, c := typedFields(t)
	sim, srv := newSim(t, getleadsim.Options{Fields: fields})
	s := newSink(t, ModeV3, srv, nil)
	whole := mappings.Lead{mappings.FirstName: "Asha", mappings.MobilePhone: "+91 98765 43210"}
	change := mappings.Lead{mappings.FirstName: "Asha", mappings.MobilePhone: "+91 98765 43210",
		"visit_date": "2026-12-04T22:30:00-05:00", "call_at": "2026-12-04 09:15", "budget": "25000", "seats": " 12.5 ", "vip": "Yes"}
	r := &pipeline.Record{Key: "k", Fields: c.Encode(change), NaturalKeys: c.NaturalKeys(whole)}
	out := mustWrite(t, s, r)
	l, ok := sim.LeadByPhone("+919876543210")
	want := map[string]string{"visit_date": "2026-12-05", "call_at": "2026-12-04T09:15:00", "budget": "_25000", "seats": "12.5", "vip": "true"}
	if !ok {
		t.Fatal("no lead in Getlead")
	}
	for k, v := range want {
		if l.Custom[k] != v {
			t.Errorf("%s stored %q, want %q (all: %v)", k, l.Custom[k], v, l.Custom)
		}
	}

	// An update of one field merges with the stored values, which are
	// already in Getlead's spelling.
	up := &pipeline.Record{Key: "k", TargetID: out[0].TargetID, Fields: c.Encode(mappings.Lead{"budget": "_50000"}), NaturalKeys: c.NaturalKeys(whole)}
	mustWrite(t, s, up)
	if l, _ = sim.LeadByPhone("+919876543210"); l.Custom["budget"] != "_50000" || l.Custom["visit_date"] != "2026-12-05" {
		t.Fatalf("after an update: %v", l.Custom)
	}

	r.TargetID = out[0].TargetID
	r.Fields["budget"] = "50000"
	got, err := s.Read(context.Background(), []*pipeline.Record{r})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.Fields {
		if _, typed := want[k]; typed && got[0][k] != v {
			t.Errorf("read back %s = %q, want the record's %q", k, got[0][k], v)
		}
	}
}

// A value that cannot be written as its field's type dead-letters its own
// record with a reason naming the field and the value; the rest of the
// batch is written.
func TestV3UnconvertibleValueDeadLettersOnlyItsRecord(t *testing.T) {
	fields, c := typedFields(t)
	sim, srv := newSim(t, getleadsim.Options{Fields: fields})
	s := newSink(t, ModeV3, srv, nil)
	rec := func(key, phone string, custom mappings.Lead) *pipeline.Record {
		whole := mappings.Lead{mappings.FirstName: key, mappings.MobilePhone: phone}
		change := mappings.Lead{mappings.FirstName: key, mappings.MobilePhone: phone}
		for k, v := range custom {
			change[k] = v
		}
		return &pipeline.Record{Key: key, Fields: c.Encode(change), NaturalKeys: c.NaturalKeys(whole)}
	}
	recs := []*pipeline.Record{
		rec("a", "+919000000001", mappings.Lead{"visit_date": "2026-12-04"}),
		rec("b", "+919000000002", mappings.Lead{"visit_date": "next tuesday", "seats": "3"}),
		rec("c", "+919000000003", mappings.Lead{"budget": "99999"}),
		rec("d", "+919000000004", mappings.Lead{"seats": "4", "budget": "50000"}),
	}
	out := s.Write(context.Background(), recs)
	for i, bad := range map[int][2]string{1: {"visit_date", "next tuesday"}, 2: {"budget", "99999"}} {
		err := out[i].Err
		if !errors.Is(err, pipeline.ErrPermanent) || !strings.Contains(err.Error(), bad[0]) || !strings.Contains(err.Error(), bad[1]) {
			t.Errorf("record %s: %v, want a permanent failure naming %s and %q", recs[i].Key, err, bad[0], bad[1])
		}
	}
	for _, i := range []int{0, 3} {
		if out[i].Err != nil || out[i].TargetID == "" {
			t.Errorf("record %s: %+v, want written", recs[i].Key, out[i])
		}
	}
	if l, ok := sim.LeadByPhone("+919000000004"); !ok || l.Custom["budget"] != "_50000" || l.Custom["seats"] != "4" {
		t.Errorf("record d in Getlead: %v %v", ok, l.Custom)
	}
	if _, ok := sim.LeadByPhone("+919000000002"); ok {
		t.Error("record b reached Getlead")
	}
	if n := sim.Stats().ByEndpoint["leads.create"]; n != 2 {
		t.Errorf("%d creates, want 2 (the convertible records only)", n)
	}
}

// LoadFields reads /meta again: a field whose type changed in Getlead is
// written as its new type from then on, and a catalog key /meta does not
// list is a warning.
func TestV3LoadFieldsFollowsTheAccount(t *testing.T) {
	sim, srv := newSim(t, getleadsim.Options{CustomFields: []string{"visit_date"}})
	s := newSink(t, ModeV3, srv, nil)
	ctx := context.Background()
	warnings, err := s.LoadFields(ctx, []string{"visit_date", "missing_key"})
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "missing_key") {
		t.Fatalf("warnings %q, %v; want one naming missing_key", warnings, err)
	}
	sim.AddTypedField(getleadsim.Field{Key: "visit_date", Type: "date"})
	if _, err := s.LoadFields(ctx, nil); err != nil {
		t.Fatal(err)
	}
	c := mappings.GetleadLeads{CountryCode: "91"}
	whole := mappings.Lead{mappings.FirstName: "Asha", mappings.MobilePhone: "+919876543210"}
	r := &pipeline.Record{Key: "k", Fields: map[string]string{"name": "Asha", "mobileno": "9876543210", "countrycode": "91", "visit_date": "2026-12-04T10:00:00Z"},
		NaturalKeys: c.NaturalKeys(whole)}
	mustWrite(t, s, r)
	if l, _ := sim.LeadByPhone("+919876543210"); l.Custom["visit_date"] != "2026-12-04" {
		t.Fatalf("stored %v", l.Custom)
	}
}
