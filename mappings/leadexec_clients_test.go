package mappings

import (
	"strings"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
)

func TestLeadExecClientsCodec(t *testing.T) {
	var codec ClientCodec = LeadExecClients{}
	c, err := codec.Decode(map[string]string{
		"Company": "Acme & Co", "FirstName": "Ann", "LastName": "Lee", "Email": "Ann@Acme.example", "PrimaryPhone": "555-0100",
		"Address": "1 Main St", "City": "Austin", "State": "TX", "Zip": "73301", "WebSite": "acme.example",
		"Status": "6", "DateAdded": "2026-03-10T12:00:00Z", "Preferred Contact Time": "Morning",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Client{Company: "Acme & Co", FirstName: "Ann", LastName: "Lee", Email: "Ann@Acme.example", Phone: "555-0100",
		Street: "1 Main St", City: "Austin", State: "TX", Zip: "73301", Website: "acme.example"}
	if len(c) != len(want) {
		t.Fatalf("decoded %v", c)
	}
	for k, v := range want {
		if c[k] != v {
			t.Fatalf("decoded %s = %q, want %q (%v)", k, c[k], v, c)
		}
	}
	// A numeric status (GetClientList's undocumented numbers) is not read;
	// status names are.
	for in, out := range map[string]string{"Active": ClientActive, "inactive": ClientInactive, "Suspended": "", "6": ""} {
		c, _ := codec.Decode(map[string]string{"Status": in})
		if c[ClientStatus] != out {
			t.Errorf("status %q decoded as %q", in, c[ClientStatus])
		}
	}
	enc := codec.Encode(Client{ClientStatus: ClientInactive, Phone: "555", Country: "US", EmailSendLimit: "10"})
	if len(enc) != 2 || enc["Status"] != "Inactive" || enc["PrimaryPhone"] != "555" {
		t.Fatalf("encode %v", enc)
	}
	// As a target: the username crmsync would create the client with; as
	// a source: the record's own username.
	if k := codec.Keys(c); len(k) != 1 || k[0] != (pipeline.Key{Vendor: "leadexec", Entity: "client", Kind: KindUsername, Value: "ann@acme.example"}) {
		t.Fatalf("keys %v", k)
	}
	if k := (LeadExecClients{}).EventKeys(map[string]string{"Username": " Buyer7 "}); len(k) != 1 || k[0].Value != "buyer7" || k[0].Kind != KindUsername {
		t.Fatalf("event keys %v", k)
	}
	if k := (LeadExecClients{}).EventKeys(map[string]string{"Company": "Acme"}); k != nil {
		t.Fatalf("event keys without a username %v", k)
	}
	if k := (SharpSpringClients{}).Keys(Client{Company: " Acme  &amp; Co "}); len(k) != 1 || k[0].Value != "acme & co" || k[0].Kind != KindCompanyName {
		t.Fatalf("sharpspring keys %v", k)
	}
}

func TestLeadExecUsername(t *testing.T) {
	long := strings.Repeat("Very Long Company Name ", 10)
	for name, tc := range map[string]struct {
		c    Client
		want string
	}{
		"email":        {Client{Email: " Ops@Acme.Example ", Company: "Acme"}, "ops@acme.example"},
		"bad email":    {Client{Email: "not an address", Company: "Acme & Co."}, "crmsync-acme-co"},
		"company":      {Client{Company: "  Zoë's Café (Austin) "}, "crmsync-zo-s-caf-austin"},
		"no ascii":     {Client{Company: "東京"}, "crmsync-"},
		"long":         {Client{Company: long}, ""},
		"nothing":      {Client{City: "Austin"}, ""},
		"empty fields": {Client{Email: "", Company: " "}, ""},
	} {
		got := LeadExecUsername(tc.c)
		switch name {
		case "no ascii":
			if !strings.HasPrefix(got, tc.want) || len(got) != len(tc.want)+10 {
				t.Errorf("%s: %q", name, got)
			}
		case "long":
			if len(got) > 64 || !strings.HasPrefix(got, "crmsync-very-long-company-name-") || strings.HasSuffix(got, "-") {
				t.Errorf("%s: %q", name, got)
			}
		default:
			if got != tc.want {
				t.Errorf("%s: %q, want %q", name, got, tc.want)
			}
		}
		if got != LeadExecUsername(tc.c) {
			t.Errorf("%s: not deterministic", name)
		}
	}
	if nk := (LeadExecClients{}).NaturalKeys(Client{Company: "Acme"}); nk[LeadExecUsernameField] != "crmsync-acme" {
		t.Fatalf("natural keys %v", nk)
	}
}

// TestClientRoutesSharpSpringLeadExec: both directions of the SharpSpring
// agency client ⇄ LeadExec client pair, as golden files. SourceFields are
// what the reverse route compares with the write ledger to drop echoes.
func TestClientRoutesSharpSpringLeadExec(t *testing.T) {
	cases := []struct {
		name  string
		route ClientRoute
		ev    pipeline.Event
	}{
		{"sharpspring_to_leadexec_client", ClientRoute{From: SharpSpringClients{}, To: LeadExecClients{}},
			pipeline.Event{Vendor: "sharpspring", Entity: "client", ExternalID: "2036272130", Fields: map[string]string{
				"companyName": "Acme &amp; Co", "streetAddress": "1 Main St", "zipCode": "73301", "country": "us",
				"state": "TX", "city": "Austin"}}},
		{"sharpspring_to_leadexec_client_removed", ClientRoute{From: SharpSpringClients{}, To: LeadExecClients{}},
			pipeline.Event{Vendor: "sharpspring", Entity: "client", ExternalID: "2036272131", Op: pipeline.OpDelete, Fields: map[string]string{}}},
		{"leadexec_to_sharpspring_client", ClientRoute{From: LeadExecClients{}, To: SharpSpringClients{}},
			pipeline.Event{Vendor: "leadexec", Entity: "client", ExternalID: "20001", Fields: map[string]string{
				"Username": "Beta", "Company": "Beta LLC", "FirstName": "Bo", "LastName": "Ng", "Email": "bo@beta.example", "PrimaryPhone": "+1 512 555 0101",
				"Address": "9 Elm St", "City": "Dallas", "State": "TX", "Zip": "75201", "WebSite": "beta.example",
				"DateAdded": "2026-03-10T19:00:00Z"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.route.Map(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			goldenJSON(t, tc.name, m)
		})
	}
}
