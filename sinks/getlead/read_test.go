package getlead

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline/sinktest"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/getlead"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
)

// writeCalls counts the simulator's write requests of both APIs.
func writeCalls(sim *getleadsim.Server) int {
	n := 0
	for ep, c := range sim.Stats().ByEndpoint {
		if strings.HasPrefix(ep, "gl-") || ep == "leads.create" || ep == "leads.update" || ep == "leads.by-identifier" || ep == "leads.notes" {
			n += c
		}
	}
	return n
}

func TestReadWithoutAV3KeyIsNoReader(t *testing.T) {
	_, srv := newSim(t, getleadsim.Options{})
	s, err := NewLeadSink(Config{Classic: getlead.ClassicConfig{BaseURL: srv.URL, Token: token}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Read(context.Background(), []*pipeline.Record{record("k", mappings.Lead{mappings.MobilePhone: "9876543210"}, nil)})
	if !errors.Is(err, pipeline.ErrNoReader) || !strings.Contains(err.Error(), "getlead.api_key") {
		t.Fatalf("err = %v, want ErrNoReader naming getlead.api_key", err)
	}
}

// Records written through the sink (either API) read back equal through
// V3: by phone, and by lead id once known; the note from the write ledger.
func TestReadBackWhatWasWritten(t *testing.T) {
	cat, errs := mappings.NewCatalog([]mappings.CatalogField{{Name: "referred_by", Getlead: "Referred_By"}})
	if errs != nil {
		t.Fatal(errs)
	}
	c := mappings.GetleadLeads{Catalog: cat, CountryCode: "91"}
	for _, mode := range []string{ModeClassic, ModeV3} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			sim, srv := newSim(t, getleadsim.Options{CustomFields: []string{"Referred_By"}})
			s := newSink(t, mode, srv, openState(t))
			asha := mappings.Lead{mappings.FirstName: "Asha", mappings.LastName: "Rao", mappings.MobilePhone: "+91 98765 43210",
				mappings.Email: "Asha@Example.com", mappings.LeadStatus: "qualified", mappings.Description: "wants a demo", "referred_by": "Ravi"}
			ravi := mappings.Lead{mappings.FirstName: "Ravi", mappings.MobilePhone: "09123456789", mappings.LeadStatus: "New"}
			a := &pipeline.Record{Key: "a", Fields: c.Encode(asha), NaturalKeys: c.NaturalKeys(asha)}
			b := &pipeline.Record{Key: "b", Fields: c.Encode(ravi), NaturalKeys: c.NaturalKeys(ravi)}
			out := mustWrite(t, s, a, b)
			before, notes := writeCalls(sim), sim.Stats().NotesAdded

			b.TargetID = out[1].TargetID // "" in classic mode
			stranger := record("c", mappings.Lead{mappings.FirstName: "Nobody", mappings.MobilePhone: "9000000009"}, nil)
			got, err := s.Read(ctx, []*pipeline.Record{a, b, stranger})
			if err != nil {
				t.Fatal(err)
			}
			sinktest.SameAsWritten(t, "by phone", a, got[0])
			sinktest.SameAsWritten(t, "second", b, got[1])
			if got[0][mappings.GetleadStatus] != "qualified" {
				t.Errorf("status %q: want the record's spelling of Qualified", got[0][mappings.GetleadStatus])
			}
			if got[2] != nil {
				t.Fatalf("a lead Getlead does not have: %v", got[2])
			}
			if writeCalls(sim) != before || sim.Stats().NotesAdded != notes {
				t.Fatal("reading wrote")
			}

			// By id (what V3 mode knows after a write), and a gone id.
			l, _ := sim.LeadByPhone("+919876543210")
			byID := &pipeline.Record{Key: "a", TargetID: l.ID, Fields: a.Fields}
			gone := &pipeline.Record{Key: "g", TargetID: "01J00000000000000000000000", Fields: map[string]string{"name": "x"}}
			got, err = s.Read(ctx, []*pipeline.Record{byID, gone})
			if err != nil {
				t.Fatal(err)
			}
			sinktest.SameAsWritten(t, "by id", a, got[0])
			if got[1] != nil {
				t.Fatalf("a gone id: %v", got[1])
			}

			// A new note text is not what Getlead was last given.
			changed := &pipeline.Record{Key: "a", Fields: map[string]string{mappings.GetleadNote: "called back"}, NaturalKeys: a.NaturalKeys}
			got, err = s.Read(ctx, []*pipeline.Record{changed})
			if err != nil || got[0] == nil || got[0][mappings.GetleadNote] != "" {
				t.Fatalf("new note: %v, %v", got, err)
			}
		})
	}
}

// V3 finds a lead by email when the phone finds none, as its upsert does;
// the classic API keys leads by phone only.
func TestReadFindsByEmailLikeWrite(t *testing.T) {
	for _, mode := range []string{ModeClassic, ModeV3} {
		t.Run(mode, func(t *testing.T) {
			sim, srv := newSim(t, getleadsim.Options{})
			sim.SeedLead(getleadsim.LeadSeed{Name: "Other", Email: "someone@example.com", Phones: []string{"+919000000002"}})
			sim.SeedLead(getleadsim.LeadSeed{Name: "Ravi", Email: "ravi@example.com", Phones: []string{"+919000000001"}})
			s := newSink(t, mode, srv, nil)
			r := record("e", mappings.Lead{mappings.FirstName: "Ravi", mappings.MobilePhone: "9111111111"}, mappings.Lead{mappings.Email: "Ravi@Example.com"})
			got, err := s.Read(context.Background(), []*pipeline.Record{r})
			if err != nil {
				t.Fatal(err)
			}
			if mode == ModeClassic && got[0] != nil {
				t.Fatalf("classic: %v; Write would create a lead for the new number", got[0])
			}
			if mode == ModeV3 && (got[0] == nil || got[0]["name"] != "Ravi" || got[0]["mobileno"] != "9000000001") {
				t.Fatalf("v3: %v", got[0])
			}
		})
	}
}

// Through a LeadExec → Getlead route: a replay of unchanged history reads
// everything equal and writes nothing (no note appended again); an edit in
// Getlead shows in a dry run as exactly that field and is put back once.
func TestReplayWritesOnlyWhatDriftedInGetlead(t *testing.T) {
	for _, mode := range []string{ModeClassic, ModeV3} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			sim, srv := newSim(t, getleadsim.Options{})
			state := openState(t)
			ru := routeSetup(t, "leadexec-getlead", state, newSink(t, mode, srv, state), nil)
			t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
			var evs []pipeline.Event
			for i, f := range []map[string]string{
				{"FirstName": "Asha", "LastName": "Rao", "PrimaryPhone": "9876543210", "Email": "asha@example.com", "Company": "Acme", "Comments": "wants a demo"},
				{"FirstName": "Ravi", "PrimaryPhone": "+91 91234 56789", "Comments": "call after 5"},
				{"FirstName": "Asha", "LastName": "Rao", "PrimaryPhone": "9876543210", "Email": "asha@example.com", "Company": "Acme", "Comments": "wants a demo soon"},
			} {
				ev := pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: []string{"le-1", "le-2", "le-1"}[i],
					ChangedAt: t0.Add(time.Duration(i) * time.Minute), Fields: f}
				if err := ev.Seal(); err != nil {
					t.Fatal(err)
				}
				evs = append(evs, ev)
			}
			for _, ev := range evs {
				if res, err := ru.Apply(ctx, []pipeline.Event{ev}); err != nil || res.Written != 1 {
					t.Fatalf("apply: %+v, %v", res, err)
				}
			}
			before, notes := writeCalls(sim), sim.Stats().NotesAdded
			if notes != 3 {
				t.Fatalf("%d notes", notes)
			}

			res, err := ru.Replay(ctx, evs, false)
			if err != nil || res.Records != 2 || len(res.Diffs) != 0 || res.Written != 0 || writeCalls(sim) != before {
				t.Fatalf("replay of unchanged history: %+v, %v; writes %d → %d", res, err, before, writeCalls(sim))
			}

			// Someone renames Asha in Getlead.
			l, _ := sim.LeadByPhone("+919876543210")
			v3, err := getlead.NewV3(getlead.V3Config{BaseURL: srv.URL + "/api/v1", APIKey: key})
			if err != nil {
				t.Fatal(err)
			}
			edited := "Asha Edited"
			if err := v3.UpdateLead(ctx, l.ID, getlead.LeadWrite{Name: &edited}); err != nil {
				t.Fatal(err)
			}
			before = writeCalls(sim)
			res, err = ru.Replay(ctx, evs, true)
			if err != nil || len(res.Diffs) != 1 || res.Written != 0 || writeCalls(sim) != before {
				t.Fatalf("dry run: %+v, %v", res, err)
			}
			if d := res.Diffs[0]; len(d.Fields) != 1 || d.Fields["name"] != [2]string{"Asha Edited", "Asha Rao"} || d.Missing {
				t.Fatalf("dry-run diff %+v", d)
			}
			if l, _ := sim.LeadByPhone("+919876543210"); l.Name != "Asha Edited" {
				t.Fatal("the dry run wrote")
			}

			res, err = ru.Replay(ctx, evs, false)
			if err != nil || len(res.Diffs) != 1 || res.Written != 1 {
				t.Fatalf("replay: %+v, %v", res, err)
			}
			l, _ = sim.LeadByPhone("+919876543210")
			if l.Name != "Asha Rao" || len(l.Notes) != 2 || sim.Stats().NotesAdded != notes {
				t.Fatalf("after the replay: %+v, %d notes added", l, sim.Stats().NotesAdded-notes)
			}
			if res, err = ru.Replay(ctx, evs, true); err != nil || len(res.Diffs) != 0 {
				t.Fatalf("after the replay, a dry run still finds %+v, %v", res, err)
			}
		})
	}
}
