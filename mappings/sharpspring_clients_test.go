package mappings

import (
	"errors"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
)

func TestSharpSpringLeadsCodec(t *testing.T) {
	codec := SharpSpringLeads{Catalog: testCatalog(t)}
	var _ LeadCodec = codec
	l, err := codec.Decode(map[string]string{
		"emailAddress": " Ann.ONeil@Example.com", "companyName": "Acme &amp; Sons", "lastName": "O&#039;Neil",
		"Favorite_Color_5a0dd86e6e290": "teal", "active": "1", "leadScore": "18",
	})
	if err != nil {
		t.Fatal(err)
	}
	goldenJSON(t, "sharpspring_leads_decode", l)
	if k := codec.Keys(l); len(k) != 1 || k[0] != (pipeline.Key{Vendor: "sharpspring", Entity: "lead", Kind: pipeline.KindEmail, Value: "ann.oneil@example.com"}) {
		t.Fatalf("keys %v", k)
	}
	if nk := codec.NaturalKeys(l); nk["emailAddress"] != "Ann.ONeil@Example.com" || len(nk) != 1 {
		t.Fatalf("natural keys %v", nk)
	}
	if enc := codec.Encode(l); enc["companyName"] != "Acme & Sons" || enc["Favorite_Color_5a0dd86e6e290"] != "teal" || enc["emailAddress"] != "Ann.ONeil@Example.com" {
		t.Fatalf("encode %v", enc)
	}
	if _, err := codec.Decode(map[string]string{"emailAddress": "not an address"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bogus email accepted: %v", err)
	}
	if l, err := (SharpSpringLeads{}).Decode(map[string]string{"city": "Austin", "Favorite_Color_5a0dd86e6e290": "x"}); err != nil || len(l) != 1 {
		t.Fatalf("without a catalog: %v %v", l, err)
	}
}

func TestClientRouteSharpSpringToSharpSpring(t *testing.T) {
	route := ClientRoute{From: SharpSpringClients{}, To: SharpSpringClients{}}
	var _ pipeline.Mapper = route
	cases := []struct {
		name string
		ev   pipeline.Event
	}{
		{"full", pipeline.Event{Vendor: "sharpspring", Entity: "client", ExternalID: "2036272130", Fields: map[string]string{
			"companyName": "Acme &amp; Co", "salesPhone": "+1 555 0100", "streetAddress": "1 Main St", "zipCode": "73301",
			"country": "us", "state": "TX", "city": "Austin", "locale": "en_US", "salesStartHour": "8", "salesEndHour": "18",
			"emailLimit": "2500", "accountSending": "disabled", "unknownKey": "dropped",
		}}},
		{"removed", pipeline.Event{Vendor: "sharpspring", Entity: "client", ExternalID: "2036272131", Op: pipeline.OpDelete, Fields: map[string]string{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := route.Map(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			goldenJSON(t, "sharpspring_client_route_"+tc.name, m)
		})
	}
	for name, fields := range map[string]map[string]string{
		"sending":    {"accountSending": "maybe"},
		"send limit": {"emailLimit": "-1"},
	} {
		t.Run("rejects "+name, func(t *testing.T) {
			_, err := route.Map(pipeline.Event{Vendor: "sharpspring", Entity: "client", ExternalID: "1", Fields: fields})
			if !errors.Is(err, pipeline.ErrPermanent) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if _, err := route.Map(pipeline.Event{Vendor: "sharpspring", Entity: "lead", ExternalID: "1"}); !errors.Is(err, pipeline.ErrPermanent) {
		t.Fatalf("a lead event mapped as a client: %v", err)
	}
}

func TestClientValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		c  Client
		ok bool
	}{
		"empty":            {Client{}, true},
		"active":           {Client{ClientStatus: ClientActive, EmailSendLimit: "0"}, true},
		"cleared limit":    {Client{EmailSendLimit: ""}, true},
		"bad status":       {Client{ClientStatus: "Active"}, false},
		"fractional limit": {Client{EmailSendLimit: "1.5"}, false},
	} {
		if err := tc.c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: %v", name, err)
		}
	}
}
