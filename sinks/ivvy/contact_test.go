package ivvy

import (
	"context"
	"strconv"
	"testing"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

// TestContactEditCostIsFlat: an update of a lead's contact fields costs at
// most three requests whatever the account size, also where getLeadList
// ignores its filters (on main: a lead-list filter by id, then every page).
// The first update after the create finds the contact by our externalId
// (a documented filter) and returns the contact link; with the link in the
// identity map, a later update (a restarted process, nothing cached) is the
// write alone.
func TestContactEditCostIsFlat(t *testing.T) {
	for _, size := range []int{500, 5000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			ctx := context.Background()
			state := testenv.State(t)
			s, sim, _ := newSink(t, ivvysim.Options{IgnoreLeadFilters: true}, func(c *Config) { c.Identity = state })
			for i := range size {
				cid := sim.SeedContact(ivvysim.Contact{FirstName: "F", LastName: strconv.Itoa(i), Email: "p" + strconv.Itoa(i) + "@example.com"})
				sim.SeedLead(ivvysim.Lead{Name: "L", SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
			}
			// settle stores what the route stores for a written record.
			settle := func(key string, o pipeline.Outcome) {
				t.Helper()
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				links := []pipeline.Link{{CanonicalID: key, Key: pipeline.Key{Vendor: "ivvy", Entity: "lead", Kind: pipeline.KindID, Value: o.TargetID}}}
				for _, k := range o.Links {
					links = append(links, pipeline.Link{CanonicalID: key, Key: k})
				}
				if _, err := state.Settle(ctx, pipeline.Settlement{Links: links}); err != nil {
					t.Fatal(err)
				}
			}
			created := write(t, s, rec("c1", "ann@example.com", nil))[0]
			settle("c1", created)

			edit := func(s *LeadSink, last string) (int, map[string]int) {
				t.Helper()
				sim.ResetStats()
				r := &pipeline.Record{Key: "c1", TargetID: created.TargetID, Fields: map[string]string{"contact.lastName": last}}
				o := write(t, s, r)[0]
				settle("c1", o)
				id, _ := strconv.ParseInt(created.TargetID, 10, 64)
				l, _ := sim.LeadByID(id)
				if c, _ := sim.ContactByID(l.ContactID); c.LastName != last {
					t.Fatalf("contact %+v", c)
				}
				st := sim.Stats()
				if st.Requests <= 3 && !containsKey(o.Links, mappings.IVvyContactKey(l.ContactID)) {
					t.Fatalf("links %v lack the contact", o.Links)
				}
				return st.Requests, st.ByAction
			}
			if n, by := edit(s, "First"); n > 3 {
				t.Fatalf("first contact edit: %d requests %v, want ≤ 3", n, by)
			} else {
				t.Logf("first contact edit: %d requests %v", n, by)
			}
			restarted, err := NewLeadSink(Config{Client: s.c, Defaults: defaults, Identity: state})
			if err != nil {
				t.Fatal(err)
			}
			if n, by := edit(restarted, "Second"); n != 1 {
				t.Fatalf("contact edit with the link stored: %d requests %v, want the write alone", n, by)
			}
		})
	}
}

func containsKey(keys []pipeline.Key, k pipeline.Key) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}
