package ivvysim_test

import (
	"fmt"
	"testing"

	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

// Lookups by externalId, email, id and contactId answer from the records'
// current values, also after the values changed.
func TestFilteredListsFollowChanges(t *testing.T) {
	a := newAPI(t, ivvysim.Options{LeadFilters: ivvysim.LeadFiltersHonoured})
	ids := map[string]int64{}
	for _, n := range []string{"a", "b", "c"} {
		ids[n] = a.sim.SeedContact(ivvysim.Contact{FirstName: n, Email: n + "@x.example", ExternalID: "ext-" + n})
	}
	lead := a.sim.SeedLead(ivvysim.Lead{Name: "L", ContactID: ids["a"]})
	results := func(action string, filter map[string]any) []any {
		t.Helper()
		r := a.call(action, map[string]any{"filter": filter})
		res, _ := r.body["results"].([]any)
		return res
	}
	firstName := func(res []any) string {
		if len(res) != 1 {
			return fmt.Sprintf("%d results", len(res))
		}
		return fmt.Sprint(res[0].(map[string]any)["firstName"])
	}
	if got := firstName(results("contact.getContactList", map[string]any{"externalId": "EXT-B"})); got != "b" {
		t.Fatalf("by externalId: %s", got)
	}
	// b's externalId and email move to new values: the old ones find nothing.
	a.sim.EditContact(ids["b"], func(c *ivvysim.Contact) { c.ExternalID, c.Email = "ext-new", "new@x.example" })
	for _, f := range []map[string]any{{"externalId": "ext-b"}, {"email": "b@x.example"}} {
		if res := results("contact.getContactList", f); len(res) != 0 {
			t.Fatalf("%v found %d after the change", f, len(res))
		}
	}
	for _, f := range []map[string]any{{"externalId": "ext-new"}, {"email": "NEW@x.example"}, {"id": fmt.Sprint(ids["b"])}} {
		if got := firstName(results("contact.getContactList", f)); got != "b" {
			t.Fatalf("%v: %s", f, got)
		}
	}
	// The lead moves from a to c.
	byContact := func(n string) int {
		return len(results("crm.getLeadList", map[string]any{"contactId": fmt.Sprint(ids[n])}))
	}
	if byContact("a") != 1 || byContact("c") != 0 {
		t.Fatalf("lead by contact before the move: a %d, c %d", byContact("a"), byContact("c"))
	}
	a.sim.EditLead(lead, func(l *ivvysim.Lead) { l.ContactID = ids["c"] })
	if byContact("a") != 0 || byContact("c") != 1 {
		t.Fatalf("lead by contact after the move: a %d, c %d", byContact("a"), byContact("c"))
	}
	if res := results("crm.getLeadList", map[string]any{"id": fmt.Sprint(lead)}); len(res) != 1 {
		t.Fatalf("lead by id: %d results", len(res))
	}
	a.sim.DeleteLead(lead)
	if byContact("c") != 0 {
		t.Fatal("a deleted lead is still listed")
	}
}

// An edit that drops a record's custom fields leaves an empty set behind:
// the next API write of a custom field stores it.
func TestEditKeepsCustomFieldsWritable(t *testing.T) {
	a := newAPI(t, ivvysim.Options{})
	contact := a.sim.SeedContact(ivvysim.Contact{FirstName: "Ann", Email: "ann@x.example"})
	lead := a.sim.SeedLead(ivvysim.Lead{Name: "L", ContactID: contact, SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1})
	a.sim.EditContact(contact, func(c *ivvysim.Contact) { c.CustomFields = nil })
	a.sim.EditLead(lead, func(l *ivvysim.Lead) { l.CustomFields = nil })
	if r := a.call("contact.addOrUpdateContact", map[string]any{"id": contact,
		"customFields": []any{map[string]any{"fieldId": 201, "value": "blue"}}}); r.status != 200 || r.specific() != 0 {
		t.Fatalf("contact write: %d %v", r.status, r.body)
	}
	if r := a.call("contact.addOrUpdateLead", map[string]any{"id": lead,
		"customFields": []any{map[string]any{"fieldId": 201, "fieldValue": "blue"}}}); r.status != 200 || r.specific() != 0 {
		t.Fatalf("lead write: %d %v", r.status, r.body)
	}
	if c, _ := a.sim.ContactByID(contact); c.CustomFields[201] != "blue" {
		t.Fatalf("contact custom fields: %v", c.CustomFields)
	}
	if l, _ := a.sim.LeadByID(lead); l.CustomFields[201] != "blue" {
		t.Fatalf("lead custom fields: %v", l.CustomFields)
	}
}
