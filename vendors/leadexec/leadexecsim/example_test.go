package leadexecsim_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// LeadExec pushes a lead to our webhook as JSON with a bearer token, and
// counts it delivered because the reply contains the response search text.
func Example() {
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("%s %s\n%s\n", r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body)
		io.WriteString(w, `{"status":"success","id":"c-1"}`)
	}))
	defer webhook.Close()

	s, err := leadexecsim.NewSender(leadexecsim.Delivery{
		URL:            webhook.URL + "/leadexec",
		Format:         leadexecsim.FormatJSON,
		BearerToken:    "tok",
		FieldMap:       map[string]string{"FirstName": "first_name", "Email": "email", "LoanAmount": "loan"},
		ResponseSearch: `"status":"success"`,
	})
	if err != nil {
		panic(err)
	}
	lead := leadexecsim.GenerateLeads(1, 1, []string{"LoanAmount"})[0]
	res := s.Deliver(context.Background(), lead)
	fmt.Println(res.Delivered, res.Attempts, res.LastStatus)
	// Output:
	// application/json Bearer tok
	// {"LeadUID":"7000000000001","email":"matthew_wright@aol.com","first_name":"Matthew","loan":"150000"}
	// true 1 200
}

func ExampleGenerateLeads() {
	for _, l := range leadexecsim.GenerateLeads(3, 2026, []string{"Comments"}) {
		fmt.Println(l.UID, l.Fields)
	}
	// Output:
	// 7000000000001 map[Address:4344 E Colfax Dr City:Columbus Comments:Already has coverage, comparing rates. Email:jennifer_stjames@gmail.com FirstName:Jennifer LastName:St. James PrimaryPhone:6145550120 State:OH Zip:43215]
	// 7000000000002 map[Address:8892 Jackson Ct Apt 25 City:Houston Comments:Call after 5pm & ask for Sam. Email:keving@gmail.com FirstName:Kevin LastName:Gonzalez PrimaryPhone:8325550107 State:TX Zip:77001]
	// 7000000000003 map[Address:7554 E Colfax Way City:Salt Lake City Email:jeanluckim@yahoo.com FirstName:Jean-Luc LastName:Kim PrimaryPhone:8015550149 State:UT Zip:84155]
}
