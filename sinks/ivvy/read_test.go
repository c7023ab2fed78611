package ivvy

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/crmsync/crmsync/pipeline/sinktest"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

func writes(sim *ivvysim.Server) int {
	st := sim.Stats()
	return st.ByAction["contact.addOrUpdateLead"] + st.ByAction["contact.addOrUpdateContact"] + st.ByAction["batch.run"]
}

// Records written through the sink read back equal, by lead id and, without
// one, through the contact's externalId; a lead iVvy does not have is nil.
func TestReadBackWhatWasWritten(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts ivvysim.Options
	}{
		{"filters honoured", ivvysim.Options{LeadFilters: ivvysim.LeadFiltersHonoured}},
		{"filters ignored, small pages", ivvysim.Options{IgnoreLeadFilters: true, PerPageCap: 2}},
		{"filters refused, small pages", ivvysim.Options{LeadFilters: ivvysim.LeadFiltersRefused, PerPageCap: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, sim, gate := newSink(t, tc.opts, nil)
			// Someone else's lead, with the same email as ours.
			cid := sim.SeedContact(ivvysim.Contact{FirstName: "Ann", LastName: "Lee", Email: "ann@example.com"})
			sim.SeedLead(ivvysim.Lead{Name: "Theirs", SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
			a := rec("c1", "ann@example.com", map[string]string{"customFields.101": "teal", "contact.phone": "555-0100",
				"description": "wants a venue", "contact.firstName": "Anna"})
			b := rec("c2", "bo@example.com", map[string]string{"contact.firstName": "Bo", "stageName": "qualified"})
			out := write(t, s, a, b)
			for i, o := range out {
				if o.Err != nil {
					t.Fatalf("write %d: %v", i, o.Err)
				}
			}
			before := writes(sim)

			byID := &pipeline.Record{Key: "c1", TargetID: out[0].TargetID, Fields: a.Fields}
			byKey := &pipeline.Record{Key: "c2", Fields: b.Fields, NaturalKeys: b.NaturalKeys}
			// Not ours: the same email, but no contact carries its key.
			stranger := rec("c3", "ann@example.com", nil)
			gone := &pipeline.Record{Key: "c4", TargetID: "999999", Fields: map[string]string{"description": "x"}}
			got, err := s.Read(ctx, []*pipeline.Record{byID, byKey, stranger, gone})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 4 {
				t.Fatalf("%d results for 4 records", len(got))
			}
			sinktest.SameAsWritten(t, "by id", a, got[0])
			sinktest.SameAsWritten(t, "by externalId", b, got[1])
			if got[1]["stageName"] != "qualified" || got[1]["contact.id"] == "" || got[1]["type"] != "Conference" {
				t.Errorf("by externalId: %v", got[1])
			}
			if got[2] != nil || got[3] != nil {
				t.Fatalf("records iVvy does not have: %v, %v", got[2], got[3])
			}
			if writes(sim) != before {
				t.Fatalf("reading wrote: %d → %d", before, writes(sim))
			}
			if st := sim.Stats(); int64(st.Requests) != gate.n.Load() {
				t.Fatalf("%d requests, gate waited %d times", st.Requests, gate.n.Load())
			}

			// An edit in iVvy shows.
			id, _ := strconv.ParseInt(out[0].TargetID, 10, 64)
			l, _ := sim.LeadByID(id)
			sim.EditContact(l.ContactID, func(c *ivvysim.Contact) { c.FirstName = "Edited" })
			sim.EditLead(id, func(l *ivvysim.Lead) { l.CustomFields[101] = "red" })
			got, err = s.Read(ctx, []*pipeline.Record{byID})
			if err != nil || got[0]["contact.firstName"] != "Edited" || got[0]["customFields.101"] != "red" || got[0]["description"] != "wants a venue" {
				t.Fatalf("after the edit: %v, %v", got, err)
			}
		})
	}
}

// Many records: one filtered request each while the list is long, or the
// whole list paged once when that takes fewer requests.
func TestReadRequestCounts(t *testing.T) {
	ctx := context.Background()
	s, sim, _ := newSink(t, ivvysim.Options{PerPageCap: 5, LeadFilters: ivvysim.LeadFiltersHonoured}, nil)
	var recs []*pipeline.Record
	for i := range 30 {
		r := rec(fmt.Sprintf("k%d", i), fmt.Sprintf("p%d@example.com", i), map[string]string{"contact.lastName": strconv.Itoa(i)})
		o := write(t, s, r)
		if o[0].Err != nil {
			t.Fatal(o[0].Err)
		}
		recs = append(recs, &pipeline.Record{Key: r.Key, TargetID: o[0].TargetID, Fields: r.Fields})
	}
	lists := func() int { return sim.Stats().ByAction["crm.getLeadList"] }

	// 2 records, 6 pages: a probe page, then one request each.
	before := lists()
	got, err := s.Read(ctx, recs[:2])
	if err != nil {
		t.Fatal(err)
	}
	sinktest.SameAsWritten(t, "k0", recs[0], got[0])
	sinktest.SameAsWritten(t, "k1", recs[1], got[1])
	if n := lists() - before; n != 3 {
		t.Fatalf("%d getLeadList requests for 2 records, want 3", n)
	}

	// 30 records, 6 pages: the list is paged once.
	before = lists()
	got, err = s.Read(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		sinktest.SameAsWritten(t, r.Key, r, got[i])
	}
	if n := lists() - before; n != 6 {
		t.Fatalf("%d getLeadList requests for 30 records, want 6 (one scan)", n)
	}

	// One record: just its filtered request.
	before = lists()
	if got, err = s.Read(ctx, recs[5:6]); err != nil || got[0] == nil {
		t.Fatal(got, err)
	}
	if n := lists() - before; n != 1 {
		t.Fatalf("%d getLeadList requests for 1 record, want 1", n)
	}
}

// A failing lookup fails the read (the replay stops) instead of taking the
// record as missing.
func TestReadFailureIsAnError(t *testing.T) {
	s, sim, _ := newSink(t, ivvysim.Options{}, nil)
	sim.Script("contact.getContactList", ivvysim.Fault500)
	if _, err := s.Read(context.Background(), []*pipeline.Record{rec("k", "k@example.com", nil)}); err == nil {
		t.Fatal("read succeeded through a server error")
	}
	sim.Script("crm.getLeadList", ivvysim.Fault500)
	if _, err := s.Read(context.Background(), []*pipeline.Record{{Key: "k", TargetID: "5"}}); err == nil {
		t.Fatal("read succeeded through a server error")
	}
}
