package mappings

import (
	"testing"
)

type typeMap map[string]FieldType

func (u typeMap) Convert(field, v string) (string, error) {
	t, ok := u[field]
	if !ok {
		return v, nil
	}
	return t.Convert(v, ValueFormat{Date: "2006-01-02"})
}

// With the fields' types, Encode writes custom values as SharpSpring will
// hold them; a value it cannot convert is left for the sink to refuse, and
// standard fields are never converted.
func TestSharpSpringEncodeConvertsCustomValues(t *testing.T) {
	cat := mustCatalog(t, []CatalogField{{Name: "visit", SharpSpring: "Visit_5a0dd86e6e290"}, {Name: "budget", SharpSpring: "Budget_5a0dd86e6e291"}})
	types := typeMap{"Visit_5a0dd86e6e290": {Kind: KindDate}, "Budget_5a0dd86e6e291": {Kind: KindInteger},
		"firstName": {Kind: KindInteger}}
	codec := SharpSpringLeads{Catalog: cat, Values: types}
	got := codec.Encode(Lead{"visit": "2026-03-10T10:00:00Z", "budget": "lots", FirstName: "Ann"})
	want := map[string]string{"Visit_5a0dd86e6e290": "2026-03-10", "Budget_5a0dd86e6e291": "lots", "firstName": "Ann"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if plain := (SharpSpringLeads{Catalog: cat}).Encode(Lead{"visit": "2026-03-10T10:00:00Z"}); plain["Visit_5a0dd86e6e290"] != "2026-03-10T10:00:00Z" {
		t.Errorf("without types: %v", plain)
	}
}
