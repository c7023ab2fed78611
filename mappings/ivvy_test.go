package mappings

import (
	"errors"
	"maps"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
)

func ivvyCatalog(t *testing.T) *Catalog {
	t.Helper()
	return mustCatalog(t, []CatalogField{
		{Name: "favorite_color", SharpSpring: "Favorite_Color_5a0dd86e6e290", IVvy: "101"},
		{Name: "budget", SharpSpring: "budget_6670699148d8a"},
	})
}

func TestIVvyLeadsDecodeEncode(t *testing.T) {
	codec := IVvyLeads{Catalog: ivvyCatalog(t)}
	cases := []struct {
		name     string
		fields   map[string]string
		canon    Lead
		reencode map[string]string
	}{
		{"full lead",
			map[string]string{"contact.firstName": "Ann", "contact.lastName": "Lee", "contact.email": " Ann@Example.com ",
				"contact.phone": "555", "description": "d", "customFields.101": "teal", "customFields.999": "x",
				"name": "Ann Lee", "stageName": "New", "contact.id": "33001", "company.businessName": "Acme"},
			Lead{FirstName: "Ann", LastName: "Lee", Email: "Ann@Example.com", Phone: "555", Description: "d", "favorite_color": "teal", Company: "Acme"},
			map[string]string{"contact.firstName": "Ann", "contact.lastName": "Lee", "contact.email": "Ann@Example.com",
				"contact.phone": "555", "description": "d", "customFields.101": "teal"}},
		{"partial update", map[string]string{"description": "new"}, Lead{Description: "new"}, map[string]string{"description": "new"}},
		{"explicit clear", map[string]string{"customFields.101": "", "contact.phone": ""},
			Lead{"favorite_color": "", Phone: ""}, map[string]string{"customFields.101": "", "contact.phone": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := codec.Decode(tc.fields)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.canon) {
				t.Fatalf("decode\n got %v\nwant %v", got, tc.canon)
			}
			if enc := codec.Encode(got); !maps.Equal(enc, tc.reencode) {
				t.Fatalf("encode\n got %v\nwant %v", enc, tc.reencode)
			}
		})
	}
}

func TestIVvyLeadsBudgetWithoutIVvyIDIsNotEncoded(t *testing.T) {
	enc := IVvyLeads{Catalog: ivvyCatalog(t)}.Encode(Lead{"budget": "5000", Email: "a@b.co"})
	if len(enc) != 1 || enc[IVvyEmail] != "a@b.co" {
		t.Fatalf("%v", enc)
	}
}

func TestIVvyLeadsKeys(t *testing.T) {
	codec := IVvyLeads{}
	l := Lead{Email: "Ann@Example.COM"}
	keys := codec.Keys(l)
	want := pipeline.Key{Vendor: "ivvy", Entity: "lead", Kind: "email", Value: "ann@example.com"}
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("%v", keys)
	}
	if nk := codec.NaturalKeys(l); nk[IVvyEmail] != "Ann@Example.COM" {
		t.Fatalf("%v", nk)
	}
	if len(codec.Keys(Lead{Phone: "1"})) != 0 || len(codec.NaturalKeys(Lead{})) != 0 {
		t.Fatal("keys without an email")
	}
	if k := IVvyExternalKey("c123"); k.Kind != pipeline.KindExternal || k.Vendor != "ivvy" || k.Value != "c123" {
		t.Fatalf("%v", k)
	}
}

func TestIVvyLeadsRejectsBadEmail(t *testing.T) {
	_, err := IVvyLeads{}.Decode(map[string]string{"contact.email": "not an address"})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
}
