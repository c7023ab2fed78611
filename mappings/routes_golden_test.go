package mappings

import (
	"testing"

	"github.com/crmsync/crmsync/pipeline"
)

// routeCatalog has a custom field in every vendor's column and one that
// only some vendors carry.
func routeCatalog(t *testing.T) *Catalog {
	t.Helper()
	return mustCatalog(t, []CatalogField{
		{Name: "favorite_color", Label: "Favorite Color", SharpSpring: "Favorite_Color_5a0dd86e6e290",
			LeadExec: "FavoriteColor", IVvy: "101", Getlead: "favourite_colour"},
		{Name: "budget", Label: "Budget", SharpSpring: "budget_6670699148d8a", LeadExec: "Budget", Getlead: "Budget"},
	})
}

// routeGolden is what a golden file of a lead route holds: the canonical
// lead the source's fields decode to, and what the route hands the sink
// (the target's fields, identity keys, natural keys and the source state
// kept in the write ledger).
type routeGolden struct {
	Canonical Lead
	Mapped    pipeline.Mapped
}

// TestIVvyAndGetleadRoutesGolden pins the iVvy and Getlead lead mappings in
// both directions: event fields as the poller or webhook publishes them →
// canonical lead → the target's fields the sink writes.
func TestIVvyAndGetleadRoutesGolden(t *testing.T) {
	cat := routeCatalog(t)
	ss, le := SharpSpringLeads{Catalog: cat}, LeadExecLeads{Catalog: cat}
	iv, gl := IVvyLeads{Catalog: cat}, GetleadLeads{Catalog: cat, CountryCode: "91"}
	statuses := map[string]string{"qualified": "Hot", "Hot": "qualified", "New": "open"}
	ivvyLead := map[string]string{
		"name": "Ann Lee", "description": "met at the expo", "stageName": "New", "sourceName": "Web", "type": "1",
		"quality": "2", "channelName": "", "contact.id": "33001", "contact.firstName": "Ann", "contact.lastName": "Lee",
		"contact.email": " Ann.Lee@Example.com ", "contact.phone": "+61 2 9876 5432", "company.businessName": "Acme Pty",
		"customFields.101": "teal", "customFields.999": "not in the catalog",
	}
	getleadLead := map[string]string{
		"name": "Asha Devi Rao", "email": "asha@example.com", "countrycode": "91", "mobileno": "9876543210",
		"company_name": "Acme", "status": "Hot", "note": "called back", "favourite_colour": "teal", "Budget": "5000",
		"unknown key": "left out",
	}
	cases := []struct {
		name   string
		route  LeadRoute
		vendor string
		fields map[string]string
	}{
		{"sharpspring_to_ivvy_full", LeadRoute{From: ss, To: iv}, "sharpspring", map[string]string{
			"emailAddress": "Ann.Lee@Example.com", "firstName": "Ann", "lastName": "O&#039;Lee", "phoneNumber": "+61 2 9876 5432",
			"companyName": "Acme &amp; Sons", "description": "met at the expo", "Favorite_Color_5a0dd86e6e290": "teal",
			"budget_6670699148d8a": "5000", "leadStatus": "qualified", "city": "Sydney"}},
		{"sharpspring_to_ivvy_partial_update", LeadRoute{From: ss, To: iv}, "sharpspring",
			map[string]string{"emailAddress": "ann.lee@example.com", "description": "second visit"}},
		{"sharpspring_to_ivvy_explicit_clear", LeadRoute{From: ss, To: iv}, "sharpspring",
			map[string]string{"emailAddress": "ann.lee@example.com", "phoneNumber": "", "Favorite_Color_5a0dd86e6e290": ""}},
		{"ivvy_to_sharpspring_full", LeadRoute{From: iv, To: ss}, "ivvy", ivvyLead},
		{"ivvy_to_sharpspring_explicit_clear", LeadRoute{From: iv, To: ss}, "ivvy",
			map[string]string{"contact.email": "ann.lee@example.com", "contact.phone": "", "customFields.101": ""}},
		{"leadexec_to_getlead_full", LeadRoute{From: le, To: gl}, "leadexec", map[string]string{
			"FirstName": "Asha", "LastName": "Rao", "Email": "Asha@Example.com", "PrimaryPhone": "098765 43210",
			"Company": "Acme", "Comments": "called back", "FavoriteColor": "teal", "Budget": "5000", "City": "Pune"}},
		{"leadexec_to_getlead_partial_update", LeadRoute{From: le, To: gl}, "leadexec",
			map[string]string{"Email": "asha@example.com", "MobilePhone": "+91 98765 43210", "Budget": "7000"}},
		{"leadexec_to_getlead_explicit_clear", LeadRoute{From: le, To: gl}, "leadexec",
			map[string]string{"Email": "asha@example.com", "PrimaryPhone": "9876543210", "Company": "", "Budget": ""}},
		{"sharpspring_to_getlead_status_map", LeadRoute{From: ss, To: gl, StatusMap: statuses}, "sharpspring", map[string]string{
			"emailAddress": "asha@example.com", "firstName": "Asha", "lastName": "Rao", "mobilePhoneNumber": "+1 415 555 0100",
			"leadStatus": "qualified"}},
		{"getlead_to_sharpspring_full", LeadRoute{From: gl, To: ss, StatusMap: statuses}, "getlead", getleadLead},
		{"getlead_to_ivvy_full", LeadRoute{From: gl, To: iv}, "getlead", getleadLead},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			canon, err := tc.route.From.Decode(tc.fields)
			if err != nil {
				t.Fatal(err)
			}
			m, err := tc.route.Map(pipeline.Event{Vendor: tc.vendor, Entity: "lead", ExternalID: "9001", Fields: tc.fields})
			if err != nil {
				t.Fatal(err)
			}
			goldenJSON(t, tc.name, routeGolden{Canonical: canon, Mapped: m})
		})
	}
}
