package leadexec_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// Post a lead twice and read a buyer's fields by SpecialBit, against the
// simulator.
func Example() {
	now := func() time.Time { return time.Date(2026, 3, 8, 10, 30, 0, 0, time.UTC) }
	sim := leadexecsim.NewServer(leadexecsim.Options{Now: now})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	uid := sim.AddClient(leadexecsim.Client{Fields: map[int64]string{1001: "Acme Roofing", 1004: "buyer@acme.example"}})

	c, err := leadexec.New(leadexec.Config{APIURL: srv.URL, LeadsURL: srv.URL, DataURL: srv.URL,
		Key: leadexecsim.DefaultKey, ClientID: leadexecsim.DefaultClientID, ClientSecret: leadexecsim.DefaultClientSecret, Now: now})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	src := leadexec.Source{VID: leadexecsim.DefaultVID, LID: leadexecsim.DefaultLID, AID: leadexecsim.DefaultAID}
	fields := map[string]string{"FirstName": "Ana", "LastName": "Diaz", "Email": "ana@example.com", "PrimaryPhone": "5035550100"}
	for range 2 {
		r, err := c.InsertV1(ctx, src, fields)
		if err != nil {
			panic(err)
		}
		fmt.Println(r.ResponseType, r.Outcome(), r.LeadIdentifier)
	}

	list, _ := c.GetClientList(ctx)
	fmt.Println(list[0].ClientUID, leadexec.FormatPacific(list[0].DateAdded))
	data, _ := c.GetClientData(ctx, uid)
	company, _ := leadexec.FieldBySpecialBit(data, leadexec.SpecialCompany)
	email, _ := leadexec.FieldBySpecialBit(data, leadexec.SpecialEmail)
	fmt.Println(company.FieldValue, email.FieldValue)
	// Output:
	// No_Error accepted 5000000001
	// Duplicate_Lead exists 5000000001
	// 20001 3/8/2026 3:30:00 AM
	// Acme Roofing buyer@acme.example
}
