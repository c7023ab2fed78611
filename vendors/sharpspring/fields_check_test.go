package sharpspring

import (
	"context"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

func TestCheckFields(t *testing.T) {
	c, sim := simClient(t, sharpspringsim.Options{}, "1001")
	color := sim.CreateField("lead", "Favorite Color", "text")
	budget := sim.CreateField("lead", "Budget", "int")
	acct := sim.CreateField("account", "Region", "text")
	catalog := func(t *testing.T, fields ...mappings.CatalogField) *mappings.Catalog {
		t.Helper()
		cat, errs := mappings.NewCatalog(fields)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return cat
	}
	ctx := context.Background()

	ok := catalog(t, mappings.CatalogField{Name: "favorite_color", Label: "Favorite Color", SharpSpring: color},
		mappings.CatalogField{Name: "budget", SharpSpring: budget})
	if w, err := CheckFields(ctx, c, ok, nil); err != nil || len(w) != 0 {
		t.Fatalf("matching catalog: %v %v", w, err)
	}

	sim.RenameField(color, "Pet's Name")
	w, err := CheckFields(ctx, c, ok, nil)
	if err != nil || len(w) != 1 || !strings.Contains(w[0], "Pet's Name") || !strings.Contains(w[0], color) {
		t.Fatalf("renamed label: %v %v", w, err)
	}
	// The renamed field still maps: the system name is the key.
	l, err := mappings.SharpSpringLeads{Catalog: ok}.Decode(map[string]string{color: "teal"})
	if err != nil || l["favorite_color"] != "teal" {
		t.Fatalf("decode after rename: %v %v", l, err)
	}

	bad := catalog(t, mappings.CatalogField{Name: "favorite_color", SharpSpring: color},
		mappings.CatalogField{Name: "shoe_size", SharpSpring: "Shoe_Size_5a0dd86e6e291"},
		mappings.CatalogField{Name: "region", SharpSpring: acct})
	_, err = CheckFields(ctx, c, bad, nil)
	if err == nil || !strings.Contains(err.Error(), "Shoe_Size_5a0dd86e6e291") || !strings.Contains(err.Error(), acct) || !strings.Contains(err.Error(), "account field") {
		t.Fatalf("unknown system names: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatal("secret in error")
	}
}
