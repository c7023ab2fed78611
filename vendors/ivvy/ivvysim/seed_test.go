package ivvysim_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

// TestSeedLeadsStoresAHistoryTheListsFilter: leads seeded in bulk carry
// their own contact and time; lists from a modified date return the ones
// at or after it, and the contacts by email find their lead's contact.
func TestSeedLeadsStoresAHistoryTheListsFilter(t *testing.T) {
	a := newAPI(t, ivvysim.Options{Now: func() time.Time { return t0 }, MaxSkew: 24 * time.Hour, LeadFilters: ivvysim.LeadFiltersHonoured})
	const n = 300
	at := func(i int) time.Time { return t0.Add(-time.Duration(n-i) * time.Minute) }
	ids := a.sim.SeedLeads(n, func(i int) ivvysim.LeadSeed {
		return ivvysim.LeadSeed{Contact: ivvysim.Contact{FirstName: "F", LastName: fmt.Sprint(i), Email: fmt.Sprintf("s%d@example.com", i)},
			Lead: ivvysim.Lead{Name: fmt.Sprint("L", i), SourceID: 1}, At: at(i)}
	})
	if len(ids) != n || len(a.sim.Leads()) != n || len(a.sim.Contacts()) != n {
		t.Fatalf("%d ids, %d leads, %d contacts", len(ids), len(a.sim.Leads()), len(a.sim.Contacts()))
	}
	l, ok := a.sim.LeadByID(ids[17])
	c, okc := a.sim.ContactByID(l.ContactID)
	if !ok || !okc || c.Email != "s17@example.com" || !l.Modified.Equal(at(17)) || !c.Created.Equal(at(17)) {
		t.Fatalf("lead %+v, contact %+v", l, c)
	}
	r := a.call("crm.getLeadList", map[string]any{"perPage": 100, "filter": map[string]any{"modifiedDate__GREATERTHAN": at(n - 3).Format("2006-01-02 15:04:05")}})
	if r.status != 200 {
		t.Fatalf("list: %d %v", r.status, r.body)
	}
	var got []int64
	for _, it := range r.body["results"].([]any) {
		got = append(got, int64(it.(map[string]any)["id"].(float64)))
	}
	if want := ids[n-3:]; !slices.Equal(got, want) {
		t.Errorf("leads modified since: %v, want %v", got, want)
	}
}
