package mappings

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/internal/golden"

	"github.com/crmsync/crmsync/pipeline"
)

// mustCatalog builds a catalog of fields and fails the test when they do
// not make one.
func mustCatalog(t *testing.T, fields []CatalogField) *Catalog {
	t.Helper()
	c, errs := NewCatalog(fields)
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	return c
}

func testCatalog(t *testing.T) *Catalog {
	t.Helper()
	return mustCatalog(t, []CatalogField{
		{Name: "favorite_color", Label: "Favorite Color", SharpSpring: "Favorite_Color_5a0dd86e6e290", LeadExec: "FavoriteColor"},
		{Name: "budget", Label: "Budget", SharpSpring: "budget_6670699148d8a", LeadExec: "Budget"},
	})
}

func goldenJSON(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	golden.Compare(t, filepath.Join("testdata", name+".golden.json"), b)
}

func TestLeadExecToSharpSpringGolden(t *testing.T) {
	cat := testCatalog(t)
	cases := []struct {
		name   string
		fields map[string]string
	}{
		{"full", map[string]string{
			"FirstName": "Ann", "LastName": "O'Neil", "Email": "Ann.ONeil@Example.com", "PrimaryPhone": "(555) 010-2000",
			"Company": "Acme & Sons", "Address": "1 Main St", "City": "Austin", "State": "TX", "Zip": "73301",
			"FavoriteColor": "teal", "Budget": "5000", "SubID": "affiliate-7",
		}},
		{"partial_update", map[string]string{"Email": "ann@example.com", "City": "Dallas"}},
		{"explicit_clear", map[string]string{"Email": "ann@example.com", "Budget": "", "Company": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: "7000000001", Fields: tc.fields}
			m, err := LeadExecToSharpSpring(cat).Map(ev)
			if err != nil {
				t.Fatal(err)
			}
			goldenJSON(t, "leadexec_to_sharpspring_"+tc.name, m)
		})
	}
}

func TestLeadExecToSharpSpringRejects(t *testing.T) {
	cat := testCatalog(t)
	for name, fields := range map[string]map[string]string{
		"bad email":   {"Email": "not-an-address"},
		"empty email": {"Email": "  "},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LeadExecToSharpSpring(cat).Map(pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: "1", Fields: fields})
			if err == nil || !strings.Contains(err.Error(), "email") {
				t.Fatalf("err = %v, want an email error", err)
			}
		})
	}
}

func TestFromSharpSpringUnescapesAndKeysBySystemName(t *testing.T) {
	cat := testCatalog(t)
	got := FromSharpSpring(map[string]string{
		"companyName": "Acme &amp; Sons", "lastName": "O&#039;Neil", "Favorite_Color_5a0dd86e6e290": "teal",
		"Favorite Color": "ignored: labels are never keys",
	}, cat)
	goldenJSON(t, "sharpspring_to_canonical", got)
}

func TestCatalogValidation(t *testing.T) {
	_, errs := NewCatalog([]CatalogField{
		{Name: "Favorite Color", SharpSpring: "Favorite Color"},
		{Name: "email"},
		{Name: "budget", SharpSpring: "budget_6670699148d8a"},
		{Name: "budget2", SharpSpring: "budget_6670699148d8a"},
	})
	want := []string{"catalog[0].name", "catalog[0].sharpspring", "catalog[1].name", "catalog[3].sharpspring"}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i], w)
		}
	}
}

func TestDeletedLeadsAreNotDeletedElsewhere(t *testing.T) {
	cat := testCatalog(t)
	ev := pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: "1", Op: pipeline.OpDelete}
	if _, err := LeadExecToSharpSpring(cat).Map(ev); !errors.Is(err, pipeline.ErrSkip) {
		t.Fatalf("err = %v, want ErrSkip", err)
	}
}

func TestLeadStatusIsOnlySyncedThroughTheStatusMap(t *testing.T) {
	cat := testCatalog(t)
	ev := pipeline.Event{Vendor: "sharpspring", Entity: "lead", ExternalID: "1",
		Fields: map[string]string{"emailAddress": "a@example.com", "leadStatus": "qualified"}}
	route := LeadRoute{From: SharpSpringLeads{Catalog: cat}, To: LeadExecLeads{Catalog: cat}}
	m, err := route.Map(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Fields["Status"]; ok || len(m.Fields) != 1 {
		t.Fatalf("without a status map the status was written: %v", m.Fields)
	}
	route.StatusMap = map[string]string{"qualified": "Hot"}
	to := GetleadLeads{Catalog: cat, CountryCode: "1"}
	route.To = to
	ev.Fields["phoneNumber"] = "(212) 555-0101"
	m, err = route.Map(ev)
	if err != nil {
		t.Fatal(err)
	}
	if m.Fields[GetleadStatus] != "Hot" {
		t.Fatalf("mapped status = %q, want Hot (%v)", m.Fields[GetleadStatus], m.Fields)
	}
}

func TestFieldsOwnedElsewhereAreCreateOnly(t *testing.T) {
	cat := testCatalog(t)
	route := LeadExecToSharpSpring(cat)
	route.Owners = map[string]string{Company: "sharpspring", "favorite_color": "sharpspring", FirstName: "leadexec"}
	ev := pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: "1",
		Fields: map[string]string{"Email": "a@example.com", "FirstName": "Ann", "Company": "Acme", "FavoriteColor": "teal"}}
	m, err := route.Map(ev)
	if err != nil {
		t.Fatal(err)
	}
	sys, _ := cat.Field("favorite_color")
	if want := []string{sys.SharpSpring, "companyName"}; !slices.Equal(m.CreateOnly, slices.Sorted(slices.Values(want))) {
		t.Errorf("CreateOnly = %v, want %v", m.CreateOnly, want)
	}
	if m.Fields["companyName"] != "Acme" || m.Fields["firstName"] != "Ann" {
		t.Errorf("every field is still mapped (for a create): %v", m.Fields)
	}
	// The owner's own route writes its fields without restriction.
	route.Owners = map[string]string{Company: "leadexec"}
	if m, _ := route.Map(ev); len(m.CreateOnly) != 0 {
		t.Errorf("CreateOnly = %v for the owner's route", m.CreateOnly)
	}
}
