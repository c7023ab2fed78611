package leadexec_test

import (
	"context"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// TestCheckLeadFieldsSaysWhatCannotMove: errors for what would make every
// post fail or a value never move; warnings for values only the posted
// lead type cannot take.
func TestCheckLeadFieldsSaysWhatCannotMove(t *testing.T) {
	posted := leadexecsim.LeadType{UID: 201, Fields: []leadexecsim.LeadField{
		{Name: "First_Name", Required: true, SpecialBit: "FirstName"}, {Name: "EmailAddress", Required: true, SpecialBit: "Email"},
		{Name: "LoanAmount", Required: true},
	}}
	read := leadexecsim.LeadType{UID: 202, Fields: []leadexecsim.LeadField{{Name: "Email"}, {Name: "FavoriteColor"}}}
	f := newFixture(t, leadexecsim.Options{LeadTypes: []leadexecsim.LeadType{posted, read}}, nil)
	cat := func(fs ...mappings.CatalogField) *mappings.Catalog {
		c, errs := mappings.NewCatalog(fs)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return c
	}
	cases := []struct {
		name     string
		check    leadexec.FieldCheck
		cat      *mappings.Catalog
		err      []string // substrings of the error; none: no error
		warnings []string // substrings, one warning each
	}{
		{"required field nobody fills", leadexec.FieldCheck{Post: 201}, cat(),
			[]string{`lead type 201 requires field "LoanAmount"`},
			[]string{"leadexec lead type 201 has no field Address, City, Comments, Company, Country, FaxNumber, JobTitle, LastName, MobilePhone, PrimaryPhone, State, WebSite, Zip"}},
		{"the catalog fills it; a catalog field only another lead type has",
			leadexec.FieldCheck{Post: 201, Read: []int64{202}},
			cat(mappings.CatalogField{Name: "loan", LeadExec: "LoanAmount"}, mappings.CatalogField{Name: "color", LeadExec: "FavoriteColor"}),
			nil,
			[]string{`has no field "FavoriteColor" (catalog field "color"; lead type 202 has it)`, "leadexec lead type 201 has no field"}},
		{"a catalog name no lead type has", leadexec.FieldCheck{Read: []int64{202}},
			cat(mappings.CatalogField{Name: "colour", LeadExec: "FavouriteColour"}),
			[]string{`catalog field "colour": "FavouriteColour" is not a field of lead type 202`}, nil},
		{"a lead type the account lacks", leadexec.FieldCheck{Read: []int64{203}}, cat(),
			[]string{"lead type 203 has no fields"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, warnings, err := leadexec.CheckLeadFields(context.Background(), f.c, tc.check, tc.cat)
			if (err != nil) != (len(tc.err) > 0) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
			for _, want := range tc.err {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err %v lacks %q", err, want)
				}
			}
			if len(warnings) != len(tc.warnings) {
				t.Fatalf("warnings %q, want %q", warnings, tc.warnings)
			}
			for _, want := range tc.warnings {
				found := false
				for _, w := range warnings {
					found = found || strings.Contains(w, want)
				}
				if !found {
					t.Errorf("no warning %q in %q", want, warnings)
				}
			}
		})
	}
	// The posted lead type's names: standard fields by SpecialBit, others
	// as the lead type spells them, missing ones refused.
	fs, _, _ := leadexec.CheckLeadFields(context.Background(), f.c, leadexec.FieldCheck{Post: 201},
		cat(mappings.CatalogField{Name: "loan", LeadExec: "LoanAmount"}))
	var names leadexec.LeadTypeFields
	if n, ok := names.PostName("Anything"); !ok || n != "Anything" {
		t.Fatal("unknown fields are refused before the fields are read")
	}
	names.Set(fs)
	for in, want := range map[string]string{"Email": "EmailAddress", "FirstName": "First_Name", "loanamount": "LoanAmount", "City": ""} {
		got, ok := names.PostName(in)
		if got != want || ok != (want != "") {
			t.Errorf("PostName(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
