package app

import (
	"testing"
)

// TestOwnedFieldsAreWrittenOnlyOnCreate: with company owned by SharpSpring,
// a LeadExec delivery creates the SharpSpring lead with its company, but a
// later LeadExec change of the company does not overwrite it, while the
// fields LeadExec may change still do.
func TestOwnedFieldsAreWrittenOnlyOnCreate(t *testing.T) {
	h := newHarness(t, harnessOptions{ownership: map[string]string{"company": "sharpspring", "budget": "sharpspring"}})
	h.start()
	h.deliver(1, map[string]string{"Email": "own@example.com", "FirstName": "Ada", "Company": "Analytical Engines", "Budget": "100"})
	h.settle(1)
	got := h.lead("own@example.com")
	if got["companyName"] != "Analytical Engines" || got[h.sys["budget"]] != "100" || got["firstName"] != "Ada" {
		t.Fatalf("created lead = %v, want company, budget and first name from LeadExec", got)
	}
	// A SharpSpring user corrects the company; LeadExec then sends its old
	// view of the lead with a new first name.
	id := h.sim.Leads()[0].ID
	if _, err := sharpspringUpdate(h.simSrv.URL, id, map[string]string{"companyName": "Babbage & Co"}); err != nil {
		t.Fatal(err)
	}
	h.deliver(1, map[string]string{"Email": "own@example.com", "FirstName": "Augusta", "Company": "Analytical Engines Ltd", "Budget": "200"})
	h.settle(2)
	got = h.lead("own@example.com")
	if got["firstName"] != "Augusta" {
		t.Errorf("firstName = %q, want the LeadExec change Augusta", got["firstName"])
	}
	if got["companyName"] != "Babbage & Co" || got[h.sys["budget"]] != "100" {
		t.Errorf("company = %q, budget = %q: fields owned by SharpSpring were overwritten by LeadExec", got["companyName"], got[h.sys["budget"]])
	}
	h.assertOneLeadPerEmail()
}
