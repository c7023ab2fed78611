package ivvysim_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

// TestModifiedDateFiltersAnswerAsAScan: lists filtered on a modified date
// read an index, and must answer exactly what comparing every record's
// modifiedDate answers, through edits that move records between seconds
// (the clock going back included), deletions and every spelling of the
// bound.
func TestModifiedDateFiltersAnswerAsAScan(t *testing.T) {
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); defer mu.Unlock(); now = t }
	a := newAPI(t, ivvysim.Options{Now: clock, MaxSkew: 24 * time.Hour, LeadFilters: ivvysim.LeadFiltersHonoured})
	var leads, contacts []int64
	for i := range 40 {
		set(t0.Add(time.Duration(i%7) * time.Second))
		cid := a.sim.SeedContact(ivvysim.Contact{FirstName: "F", LastName: fmt.Sprint(i), Email: fmt.Sprintf("c%d@example.com", i)})
		contacts = append(contacts, cid)
		leads = append(leads, a.sim.SeedLead(ivvysim.Lead{Name: "L", ContactID: cid}))
	}
	for i, id := range leads {
		switch i % 5 {
		case 0:
			set(t0.Add(10 * time.Second))
			a.sim.EditLead(id, func(*ivvysim.Lead) {})
		case 1:
			set(t0.Add(-3 * time.Second)) // a clock set back
			a.sim.EditContact(contacts[i], func(*ivvysim.Contact) {})
		case 2:
			a.sim.DeleteLead(id)
		}
	}
	set(t0.Add(12 * time.Second))
	if r := a.call("contact.addOrUpdateLead", contactLead(nil)); r.status != 200 {
		t.Fatalf("create: %v", r.body)
	}

	ids := func(r answer) []int64 {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("list: %d %v", r.status, r.body)
		}
		var out []int64
		for _, it := range r.body["results"].([]any) {
			out = append(out, int64(it.(map[string]any)["id"].(float64)))
		}
		return out
	}
	for _, sec := range []int{-4, -3, 0, 3, 6, 7, 10, 12, 13} {
		at := t0.Add(time.Duration(sec) * time.Second)
		var wantLeads, wantContacts []int64
		for _, l := range a.sim.Leads() {
			if !l.Modified.Before(at) {
				wantLeads = append(wantLeads, l.ID)
			}
		}
		for _, c := range a.sim.Contacts() {
			if !c.Modified.Before(at) {
				wantContacts = append(wantContacts, c.ID)
			}
		}
		bound := at.Format("2006-01-02 15:04:05")
		for _, b := range []string{bound, bound + " UTC"} {
			got := ids(a.call("crm.getLeadList", map[string]any{"perPage": 100, "filter": map[string]any{"modifiedDate__GREATERTHAN": b}}))
			if !slices.Equal(got, wantLeads) {
				t.Fatalf("leads from %q: %v, want %v", b, got, wantLeads)
			}
			got = ids(a.call("contact.getContactList", map[string]any{"perPage": 100, "filter": map[string]any{"fromModifiedDate": b}}))
			if !slices.Equal(got, wantContacts) {
				t.Fatalf("contacts from %q: %v, want %v", b, got, wantContacts)
			}
		}
		// Combined with an upper bound, and a bound the index leaves to
		// the scan (text comparison: every timestamp sorts after " ").
		got := ids(a.call("contact.getContactList", map[string]any{"perPage": 100,
			"filter": map[string]any{"fromModifiedDate": bound, "toModifiedDate": bound}}))
		var exact []int64
		for _, c := range a.sim.Contacts() {
			if c.Modified.Truncate(time.Second).Equal(at) {
				exact = append(exact, c.ID)
			}
		}
		if !slices.Equal(got, exact) {
			t.Fatalf("contacts at %q: %v, want %v", bound, got, exact)
		}
	}
	all := ids(a.call("crm.getLeadList", map[string]any{"perPage": 100, "filter": map[string]any{"modifiedDate__GREATERTHAN": " 2099"}}))
	if len(all) != len(a.sim.Leads()) {
		t.Fatalf("a bound outside the layout: %d leads, want every one (%d), as text comparison answers", len(all), len(a.sim.Leads()))
	}
}
