package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// leFieldsConfig is SharpSpring → LeadExec leads against the two simulators.
func leFieldsConfig(t *testing.T, le *leadexecsim.Server, cat []mappings.CatalogField) *config.Config {
	t.Helper()
	_, ssURL := serveSharpSpring(t)
	leURL := serve(t, le)
	cfg := &config.Config{
		DataDir:     t.TempDir(),
		HTTP:        config.HTTPConfig{Listen: "127.0.0.1:0"},
		SharpSpring: sharpSpringConfig(ssURL, 0),
		LeadExec: &config.LeadExecConfig{APIURL: leURL, LeadsURL: leURL, DataURL: leURL, Key: leadexecsim.DefaultKey,
			Receiver: config.LeadExecReceiverConfig{VID: leadexecsim.DefaultVID, LID: leadexecsim.DefaultLID,
				AID: leadexecsim.DefaultAID, APIKey: lePostingKey}},
		Catalog: cat,
		Routes:  []config.RouteConfig{{Name: "ss-le", From: "sharpspring.lead", To: "leadexec.lead"}},
	}
	validConfig(t, cfg)
	return cfg
}

// TestLeadExecStartRefusesLeadFieldsThatDoNotMatch: crmsync reads the
// posted lead type's fields at start-up and does not start when the lead
// type requires a field crmsync cannot fill, or when a catalog field names
// a LeadExec field no lead type has; the message names the lead type and
// the field.
func TestLeadExecStartRefusesLeadFieldsThatDoNotMatch(t *testing.T) {
	withField := func(f leadexecsim.LeadField) []leadexecsim.LeadType {
		lts := leadexecsim.DefaultLeadTypes()
		lts[0].Fields = append(lts[0].Fields, f)
		return lts
	}
	cases := []struct {
		name  string
		types []leadexecsim.LeadType
		cat   []mappings.CatalogField
		want  string
	}{
		{"required field nobody fills", withField(leadexecsim.LeadField{Name: "LoanAmount", Required: true}), nil,
			`lead type 201 requires field "LoanAmount", which crmsync cannot fill`},
		{"catalog field the lead type lacks", nil, []mappings.CatalogField{{Name: "loan", LeadExec: "Loan_Amt"}},
			`catalog field "loan": "Loan_Amt" is not a field of lead type 201`},
		{"lead type the account lacks", []leadexecsim.LeadType{{UID: 999, Fields: []leadexecsim.LeadField{{Name: "Email"}}}}, nil,
			"lead type 201 has no fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			le := leadexecsim.NewServer(leadexecsim.Options{PostingKey: lePostingKey, LeadTypes: tc.types})
			cfg := leFieldsConfig(t, le, tc.cat)
			a, err := New(context.Background(), cfg, newTestLogger(&testenv.Log{}))
			if err == nil {
				a.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v\nwant %q", err, tc.want)
			}
			if n := le.RequestCount(leadexecsim.EndpointGetLeadFields); n != 1 {
				t.Fatalf("%d GetLeadFields requests, want 1", n)
			}
		})
	}
	// A required field the catalog fills is fine.
	le := leadexecsim.NewServer(leadexecsim.Options{PostingKey: lePostingKey,
		LeadTypes: withField(leadexecsim.LeadField{Name: "LoanAmount", Required: true})})
	cfg := leFieldsConfig(t, le, []mappings.CatalogField{{Name: "loan", LeadExec: "LoanAmount"}})
	a, err := New(context.Background(), cfg, newTestLogger(&testenv.Log{}))
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

// TestLeadExecPostsByTheLeadTypesFields: the lead sink posts standard
// fields under the lead type's own names (found by SpecialBit), leaves out
// those the lead type lacks (said once at start-up), and follows a change
// of the lead type found by the scheduled check.
func TestLeadExecPostsByTheLeadTypesFields(t *testing.T) {
	t.Parallel()
	le := leadexecsim.NewServer(leadexecsim.Options{PostingKey: lePostingKey, LeadTypes: []leadexecsim.LeadType{{
		UID: leadexecsim.DefaultLID, Fields: []leadexecsim.LeadField{
			{Name: "First_Name", Required: true, SpecialBit: "FirstName"}, {Name: "Last_Name", SpecialBit: "LastName"},
			{Name: "EmailAddress", Required: true, Kind: leadexecsim.KindEmail, SpecialBit: "Email"},
		}}}})
	ss, ssURL := serveSharpSpring(t)
	cfg := leFieldsConfig(t, le, nil)
	cfg.SharpSpring.Endpoint = ssURL + "/pubapi/v1.2/"
	cfg.SharpSpring.Poller = config.SharpSpringPollerConfig{Interval: config.Duration(time.Second),
		Overlap: config.Duration(2 * time.Second), Lag: config.Duration(-1), Since: time.Now().UTC().Add(-time.Minute)}
	cfg.LeadExec.FieldCheckInterval = config.Duration(50 * time.Millisecond)
	cfg.Routes[0].Linger = config.Duration(20 * time.Millisecond)
	logs := &testenv.Log{}
	_, stop := runApp(t, cfg, logs)
	defer stop()
	wait := waiter(t, logs)
	if !strings.Contains(logs.String(), "leadexec lead type 201 has no field") || !strings.Contains(logs.String(), "City") {
		t.Fatalf("the standard fields the lead type lacks were not named:\n%s", tail(logs.String()))
	}
	byEmail := func(field, email string) (leadexecsim.StoredLead, bool) {
		for _, l := range le.Leads() {
			if l.Fields[field] == email {
				return l, true
			}
		}
		return leadexecsim.StoredLead{}, false
	}
	ss.SeedLead(map[string]string{"emailAddress": "ana@example.com", "firstName": "Ana", "lastName": "Diaz", "city": "Austin"})
	wait("the lead in LeadExec", func() bool { _, ok := byEmail("EmailAddress", "ana@example.com"); return ok })
	l, _ := byEmail("EmailAddress", "ana@example.com")
	if l.Fields["First_Name"] != "Ana" || l.Fields["Last_Name"] != "Diaz" || len(l.Fields) != 3 {
		t.Fatalf("posted %+v", l.Fields)
	}

	// The lead type gains City: the next check sees it, and the next lead
	// carries it.
	lt, _ := le.LeadTypeByUID(leadexecsim.DefaultLID)
	lt.Fields = append(lt.Fields, leadexecsim.LeadField{Name: "City", SpecialBit: "City"})
	checks := le.RequestCount(leadexecsim.EndpointGetLeadFields)
	le.SetLeadType(lt)
	wait("a scheduled field check", func() bool { return le.RequestCount(leadexecsim.EndpointGetLeadFields) > checks+1 })
	ss.SeedLead(map[string]string{"emailAddress": "bo@example.com", "firstName": "Bo", "lastName": "Yu", "city": "Waco"})
	wait("the second lead in LeadExec", func() bool { _, ok := byEmail("EmailAddress", "bo@example.com"); return ok })
	if l, _ := byEmail("EmailAddress", "bo@example.com"); l.Fields["City"] != "Waco" {
		t.Fatalf("posted %+v", l.Fields)
	}
}

// TestLeadExecUnreadableAnswerEndToEnd: LeadExec stores a lead and answers
// garbage, then stores nothing and answers garbage for another lead every
// time. The first is settled by reading it back (one lead in LeadExec, no
// dead letter); the second is posted three times and dead-lettered with
// LeadExec's answer.
func TestLeadExecUnreadableAnswerEndToEnd(t *testing.T) {
	t.Parallel()
	w := newLEWorld(t, []config.RouteConfig{{Name: "ss-le", From: "sharpspring.lead", To: "leadexec.lead"}}, nil)
	ssLE, _ := w.app.Route("ss-le")
	w.le.MalformNext(leadexecsim.EndpointInsertV2, 1)
	w.ss.SeedLead(map[string]string{"emailAddress": "kim@example.com", "firstName": "Kim", "lastName": "Ode", "phoneNumber": "512-555-0177"})
	w.wait("the lead settled", func() bool { return w.settled("ss-le") && ssLE.Stats.Upserts.Load() == 1 })
	if ls := w.leLeadByEmail("kim@example.com"); len(ls) != 1 {
		t.Fatalf("LeadExec holds %d leads for kim@example.com", len(ls))
	}
	if n := w.le.RequestCount(leadexecsim.EndpointInsertV2); n != 1 {
		t.Fatalf("%d posts, want 1", n)
	}
	if w.le.RequestCount(leadexecsim.EndpointQueryLeads) == 0 {
		t.Fatal("not settled by a read-back")
	}

	// No phone: LeadExec refuses it, in answers crmsync cannot read.
	posts := w.le.RequestCount(leadexecsim.EndpointInsertV2)
	w.le.MalformNext(leadexecsim.EndpointInsertV2, 5)
	w.ss.SeedLead(map[string]string{"emailAddress": "nophone@example.com", "firstName": "No", "lastName": "Phone"})
	w.wait("the lead dead-lettered", func() bool {
		dls, _ := w.app.State.DeadLetters(context.Background(), pipeline.DeadLetterFilter{Route: "ss-le"})
		return len(dls) == 1
	})
	dls, _ := w.app.State.DeadLetters(context.Background(), pipeline.DeadLetterFilter{Route: "ss-le"})
	if d := dls[0]; d.Code != "unreadable_answer" || !strings.Contains(d.Message, "<!--") {
		t.Fatalf("dead letter %+v", d)
	}
	if n := w.le.RequestCount(leadexecsim.EndpointInsertV2) - posts; n != 3 {
		t.Fatalf("%d posts of the refused lead, want 3", n)
	}
}
