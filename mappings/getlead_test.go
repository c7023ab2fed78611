package mappings

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
)

func getleadCodec(t *testing.T) GetleadLeads {
	t.Helper()
	c := mustCatalog(t, []CatalogField{
		{Name: "favorite_color", Label: "Favorite Color", Getlead: "favourite_colour"},
		{Name: "budget", Label: "Budget", Getlead: "Budget"},
	})
	return GetleadLeads{Catalog: c, CountryCode: "91"}
}

func TestGetleadEncode(t *testing.T) {
	codec := getleadCodec(t)
	cases := []struct {
		name string
		lead Lead
		want map[string]string
	}{
		{"full", Lead{FirstName: "Asha", LastName: "Rao", Email: " Asha@Example.com ", MobilePhone: "+91 98765 43210",
			Company: "Acme", LeadStatus: "Qualified", Description: "called back", "favorite_color": "teal", "budget": "5000", Title: "CTO"},
			map[string]string{"name": "Asha Rao", "email": "Asha@Example.com", "countrycode": "91", "mobileno": "9876543210",
				"company_name": "Acme", "status": "Qualified", "note": "called back", "favourite_colour": "teal", "Budget": "5000"}},
		{"phone used when there is no mobile", Lead{Phone: "09876543210"},
			map[string]string{"countrycode": "91", "mobileno": "9876543210"}},
		{"mobile wins over phone", Lead{Phone: "+44 20 7946 0958", MobilePhone: "919876543210"},
			map[string]string{"countrycode": "91", "mobileno": "9876543210"}},
		{"first name alone", Lead{FirstName: "Asha"}, map[string]string{"name": "Asha"}},
		{"both names cleared", Lead{FirstName: "", LastName: ""}, map[string]string{"name": ""}},
		{"explicit clear of a custom field", Lead{"budget": "", Company: ""}, map[string]string{"Budget": "", "company_name": ""}},
		{"unusable phone is left out", Lead{MobilePhone: "12345", Email: "a@example.com"}, map[string]string{"email": "a@example.com"}},
		{"foreign number keeps its country", Lead{MobilePhone: "+1 415 555 0100"}, map[string]string{"countrycode": "1", "mobileno": "4155550100"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := codec.Encode(tc.lead); !maps.Equal(got, tc.want) {
				t.Fatalf("Encode = %v\n want %v", got, tc.want)
			}
		})
	}
}

func TestGetleadDecode(t *testing.T) {
	codec := getleadCodec(t)
	cases := []struct {
		name   string
		fields map[string]string
		want   Lead
	}{
		{"full", map[string]string{"name": "Asha Devi Rao", "email": "asha@example.com", "countrycode": "91", "mobileno": "9876543210",
			"company_name": "Acme", "status": "New", "note": "hello", "favourite_colour": "teal", "unknown key": "x"},
			Lead{FirstName: "Asha", LastName: "Devi Rao", Email: "asha@example.com", MobilePhone: "+919876543210",
				Company: "Acme", LeadStatus: "New", Description: "hello", "favorite_color": "teal"}},
		{"mobile with its own country code", map[string]string{"mobileno": "+44 20 7946 0958"}, Lead{MobilePhone: "+442079460958"}},
		{"country code from the record", map[string]string{"countrycode": "1", "mobileno": "4155550100"}, Lead{MobilePhone: "+14155550100"}},
		{"default country code", map[string]string{"mobileno": "9876543210"}, Lead{MobilePhone: "+919876543210"}},
		{"single name", map[string]string{"name": "Asha"}, Lead{FirstName: "Asha", LastName: ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := codec.Decode(tc.fields)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("Decode = %v\n want %v", got, tc.want)
			}
		})
	}
}

func TestGetleadDecodeRejects(t *testing.T) {
	codec := getleadCodec(t)
	for name, fields := range map[string]map[string]string{
		"short mobile": {"mobileno": "12345"},
		"bad email":    {"email": "not-an-address", "mobileno": "9876543210"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := codec.Decode(fields); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode(%v) err = %v, want ErrInvalid", fields, err)
			}
		})
	}
}

// Encode(Decode(x)) == x for normalised Getlead fields: the reverse route
// sees exactly what the poller published, so echo suppression can match it.
func TestGetleadRoundTrip(t *testing.T) {
	codec := getleadCodec(t)
	in := map[string]string{"name": "Asha Rao", "email": "asha@example.com", "countrycode": "91", "mobileno": "9876543210",
		"company_name": "Acme", "status": "New", "note": "n", "Budget": "10"}
	l, err := codec.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := codec.Encode(l); !maps.Equal(got, in) {
		t.Fatalf("round trip = %v\n want %v", got, in)
	}
}

func TestGetleadKeysAreOneForEveryWritingOfTheNumber(t *testing.T) {
	codec := getleadCodec(t)
	want := []pipeline.Key{
		{Vendor: "getlead", Entity: "lead", Kind: "phone", Value: "+919876543210"},
		{Vendor: "getlead", Entity: "lead", Kind: "email", Value: "asha@example.com"},
	}
	for _, raw := range []string{"+91 98765 43210", "919876543210", "09876543210"} {
		t.Run(raw, func(t *testing.T) {
			l := Lead{MobilePhone: raw, Email: "Asha@Example.COM"}
			got := codec.Keys(l)
			if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
				t.Fatalf("Keys = %v, want %v", got, want)
			}
			nk := codec.NaturalKeys(l)
			if nk["countrycode"] != "91" || nk["mobileno"] != "9876543210" || nk["email"] != "Asha@Example.COM" {
				t.Fatalf("NaturalKeys = %v", nk)
			}
		})
	}
}

func TestGetleadValidate(t *testing.T) {
	codec := getleadCodec(t)
	cases := []struct {
		name   string
		lead   Lead
		reason string // "" = valid
	}{
		{"mobile", Lead{MobilePhone: "9876543210"}, ""},
		{"phone only", Lead{Phone: "+1 415 555 0100"}, ""},
		{"no phone at all", Lead{Email: "a@example.com"}, "needs a mobile number"},
		{"cleared phone", Lead{Phone: "", MobilePhone: ""}, "needs a mobile number"},
		{"too short", Lead{Phone: "555-0100"}, "7 national digits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := codec.Validate(tc.lead)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Validate = %v, want ErrInvalid saying %q", err, tc.reason)
			}
			if len(codec.Keys(tc.lead)) != 0 && tc.lead[Email] == "" {
				t.Fatalf("an invalid lead must not get a phone key: %v", codec.Keys(tc.lead))
			}
		})
	}
}

var _ LeadCodec = GetleadLeads{}
