package leadexecsim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/simkit/simtest"
)

var simT0 = time.Date(2026, 7, 1, 16, 0, 0, 0, time.UTC) // 9:00 AM PDT

type simFixture struct {
	t   *testing.T
	sim *leadexecsim.Server
	url string
	clk *simtest.Clock
}

func newSim(t *testing.T, opts leadexecsim.Options) *simFixture {
	t.Helper()
	f := &simFixture{t: t, clk: simtest.NewClock(simT0)}
	if opts.Now == nil {
		opts.Now = f.clk.Now
	}
	f.sim = leadexecsim.NewServer(opts)
	srv := httptest.NewServer(f.sim)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("not a JSON object: %q", r.body)
	}
	return m
}

func (f *simFixture) do(method, path, ctype, body string, header map[string]string) reply {
	f.t.Helper()
	req, err := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	a, err := simtest.Do(http.DefaultClient, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return reply{a.Status, a.Header, string(a.Body)}
}

const form = "application/x-www-form-urlencoded"

func (f *simFixture) token() string {
	f.t.Helper()
	r := f.do("POST", "/v1/authorization/token", "application/json",
		`{"client_id":"`+leadexecsim.DefaultClientID+`","client_secret":"`+leadexecsim.DefaultClientSecret+`","grant_type":"client_credentials"}`, nil)
	if r.status != 200 {
		f.t.Fatalf("token: %d %s", r.status, r.body)
	}
	return r.json(f.t)["access_token"].(string)
}

func TestV1ParametersAndFormats(t *testing.T) {
	f := newSim(t, leadexecsim.Options{})
	q := "VID=101&Lid=201&aId=301&FirstName=Ana&lastname=Diaz&EMAIL=ana@example.com&PrimaryPhone=5035550100&State=or"
	// A field the lead type lacks refuses the lead, naming the field.
	if r := f.do("GET", "/processor/insert/general?"+q+"&Unknown=x", "", "", nil); r.status != 200 ||
		!strings.Contains(r.body, "<ResponseType>Data_Errors</ResponseType>") ||
		!strings.Contains(r.body, "<ResponseDetails>Unknown is not a field of lead type 201</ResponseDetails>") {
		t.Fatalf("unknown field: %d %s", r.status, r.body)
	}
	r := f.do("GET", "/processor/insert/general?"+q, "", "", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/xml") ||
		!strings.Contains(r.body, `xmlns="http://tempuri.org/"`) || !strings.Contains(r.body, "<isValidPost>true</isValidPost>") ||
		!strings.Contains(r.body, "<ResponseType>No_Error</ResponseType>") || !strings.Contains(r.body, "<LeadIdentifier>5000000001</LeadIdentifier>") ||
		!strings.Contains(r.body, "<PostID>5e1ead00-0000-4000-8000-000000000002</PostID>") || !strings.Contains(r.body, "<ResponseDetails />") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	l, ok := f.sim.LeadByUID(5000000001)
	if !ok || l.Fields["LastName"] != "Diaz" || l.Fields["Email"] != "ana@example.com" || l.Fields["State"] != "or" ||
		len(l.Fields) != 5 || !l.DateAdded.Equal(simT0) || l.Version != 1 || l.AID != 301 {
		t.Fatalf("stored %+v", l)
	}
	if sl := l.Lead(); sl.UID != l.UID || sl.Fields["FirstName"] != "Ana" {
		t.Fatalf("as delivery lead: %+v", sl)
	}

	// Duplicate, answered as JSON by path; the failure keeps the existing id.
	r = f.do("POST", "/processor/insert/general/json", form, "vid=101&lid=201&FirstName=A&LastName=B&Email=x@example.com&PrimaryPhone=503.555.0100", nil)
	m := r.json(t)
	if m["isValidPost"] != false || m["ResponseType"] != "Duplicate_Lead" || m["LeadIdentifier"] != 5000000001.0 {
		t.Fatalf("%s", r.body)
	}
	// Data errors, JSON by response_type; a failed post has a null id.
	r = f.do("POST", "/processor/insert/general", form, "vid=101&lid=201&response_type=json&FirstName=A&Email=bad", nil)
	m = r.json(t)
	if m["ResponseType"] != "Data_Errors" || m["ResponseDetails"] != "LastName is required; Email is invalid; PrimaryPhone is required" ||
		m["LeadIdentifier"] != nil {
		t.Fatalf("%s", r.body)
	}
	// A flat JSON body, answered as XML.
	r = f.do("POST", "/processor/insert/general", "application/json",
		`{"vid":101,"lid":"201","FirstName":"C","LastName":"D","Email":"c@example.com","PrimaryPhone":"5035550111","Zip":"9720"}`, nil)
	if !strings.Contains(r.body, "<ResponseType>Data_Errors</ResponseType>") || !strings.Contains(r.body, "Zip is invalid") ||
		!strings.Contains(r.body, "<LeadIdentifier />") {
		t.Fatalf("%s", r.body)
	}
}

func TestV1CampaignResolution(t *testing.T) {
	f := newSim(t, leadexecsim.Options{Campaigns: []leadexecsim.Campaign{
		{AID: 300, VID: 101, LID: 201, Disabled: true},
		{AID: 305, VID: 101, LID: 201, Password: "pw", PendingQCReview: true, Price: "12.50"},
	}})
	post := func(extra string) map[string]any {
		return f.do("POST", "/processor/insert/general/json", form,
			"vid=101&lid=201&FirstName=A&LastName=B&PrimaryPhone=503555010"+extra[:1]+"&Email=a"+extra[:1]+"@example.com&"+extra[1:], nil).json(t)
	}
	if m := post("1aid=305"); m["ResponseType"] != "No_Account_Found" {
		t.Fatalf("no password: %v", m)
	}
	if m := post("2aid=305&Password=nope"); m["ResponseType"] != "No_Account_Found" {
		t.Fatalf("wrong password: %v", m)
	}
	if m := post("3aid=305&PASSWORD=pw"); m["isValidPost"] != true || m["PendingQCReview"] != true || m["Price"] != 12.5 ||
		m["VendorAccountAssigned"] != 305.0 {
		t.Fatalf("password: %v", m)
	}
	// Without aid the enabled campaign is chosen over the disabled one with a lower AID.
	if m := post("4password=pw"); m["isValidPost"] != true || m["VendorAccountAssigned"] != 305.0 {
		t.Fatalf("no aid: %v", m)
	}
	if m := post("5aid=300"); m["ResponseType"] != "Account_Disabled" {
		t.Fatalf("disabled: %v", m)
	}
	if err := f.sim.EnableCampaign(300); err != nil {
		t.Fatal(err)
	}
	if m := post("6aid=300"); m["isValidPost"] != true {
		t.Fatalf("enabled: %v", m)
	}
	if f.sim.DisableCampaign(999) == nil {
		t.Fatal("unknown campaign disabled")
	}
}

func TestV2Requests(t *testing.T) {
	f := newSim(t, leadexecsim.Options{MaxV2Leads: 2, NumericResponseType: true})
	key := map[string]string{"api-key": leadexecsim.DefaultPostingKey}
	okLead := `{"properties":{"reference":"r1","noSell":true},"fields":{"FirstName":"A","LastName":"B","Email":"a@example.com","PrimaryPhone":"5035550100"}}`
	cases := []struct {
		name   string
		header map[string]string
		body   string
		status int
		msg    string
	}{
		{"no key", nil, `{}`, 401, "api-key"},
		{"wrong key", map[string]string{"api-key": "x"}, `{}`, 401, "api-key"},
		{"not json", key, `{`, 400, "JSON"},
		{"no source", key, `{"leads":[` + okLead + `]}`, 400, "source"},
		{"no sendDelay", key, `{"source":{"vid":101,"lid":201},"leads":[` + okLead + `]}`, 400, "sendDelay"},
		{"bad sendDelay", key, `{"source":{"vid":101,"lid":201,"sendDelay":"soon"},"leads":[` + okLead + `]}`, 400, "sendDelay"},
		{"no leads", key, `{"source":{"vid":101,"lid":201,"sendDelay":0},"leads":[]}`, 400, "at least one"},
		{"too many", key, `{"source":{"vid":101,"lid":201,"sendDelay":0},"leads":[{},{},{}]}`, 400, "at most 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do("POST", "/v2/insert/general", "application/json", tc.body, tc.header)
			if r.status != tc.status || !strings.Contains(r.json(t)["message"].(string), tc.msg) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	r := f.do("POST", "/v2/insert/general", "application/json",
		`{"source":{"vid":"101","aid":301,"lid":201,"sendDelay":2,"returnURL":"https://example.com/cb"},"leads":[`+okLead+`,{"fields":{}}]}`, key)
	var rs []map[string]any
	if err := json.Unmarshal([]byte(r.body), &rs); err != nil || r.status != 200 || len(rs) != 2 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if rs[0]["isValidPost"] != true || rs[0]["ResponseType"] != 0.0 || rs[1]["ResponseType"] != 9.0 || rs[1]["LeadIdentifier"] != nil {
		t.Fatalf("%s", r.body)
	}
	if l := f.sim.Leads(); len(l) != 1 || l[0].Properties["reference"] != "r1" || l[0].Properties["noSell"] != "true" || l[0].Version != 2 {
		t.Fatalf("%+v", l)
	}
	if r := f.do("POST", "/v2/insert/general", "application/json",
		`{"source":{"sendDelay":0},"leads":[{"fields":{}}]}`, key); !strings.Contains(r.body, `"ResponseType":1`) {
		t.Fatalf("system id: %s", r.body)
	}
}

func TestTokenEndpoint(t *testing.T) {
	f := newSim(t, leadexecsim.Options{TokenLifetime: 10 * time.Minute})
	good := url.Values{"client_id": {leadexecsim.DefaultClientID}, "client_secret": {leadexecsim.DefaultClientSecret},
		"grant_type": {"client_credentials"}}
	r := f.do("POST", "/v1/authorization/token", form, good.Encode(), nil)
	m := r.json(t)
	if r.status != 200 || m["token_type"] != "Bearer" || m["expires_in"] != 600.0 || m["access_token"] == "" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if _, has := m["error"]; !has {
		t.Fatal("no error member")
	}
	tok := m["access_token"].(string)
	bad := url.Values{"client_id": {leadexecsim.DefaultClientID}, "client_secret": {"x"}, "grant_type": {"client_credentials"}}
	if r := f.do("POST", "/v1/authorization/token", form, bad.Encode(), nil); r.status != 401 || r.json(t)["error"] != "invalid_client" {
		t.Fatalf("bad secret: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/v1/authorization/token", "application/json", `{"grant_type":"password"}`, nil); r.status != 400 ||
		r.json(t)["error"] != "unsupported_grant_type" {
		t.Fatalf("grant: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/v1/authorization/token", "application/json", `nope`, nil); r.status != 400 || r.json(t)["error"] != "invalid_request" {
		t.Fatalf("body: %d %s", r.status, r.body)
	}

	query := func(tok string) reply {
		return f.do("POST", "/v1/leads/query/201", "application/json", `{"StartDate":"2026-01-01","EndDate":"2027-01-01"}`,
			map[string]string{"Authorization": "Bearer " + tok})
	}
	if r := query(tok); r.status != 200 {
		t.Fatalf("valid token: %d %s", r.status, r.body)
	}
	f.clk.Add(10*time.Minute - time.Second)
	if r := query(tok); r.status != 200 {
		t.Fatalf("just before expiry: %d", r.status)
	}
	f.clk.Add(time.Second)
	if r := query(tok); r.status != 401 || r.json(t)["error"] != "invalid_token" || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("expired: %d %s", r.status, r.body)
	}
	if r := query("made-up"); r.status != 401 {
		t.Fatalf("unknown: %d", r.status)
	}
	tok2 := f.token()
	f.sim.ExpireTokens()
	if r := query(tok2); r.status != 401 {
		t.Fatalf("after ExpireTokens: %d", r.status)
	}
	if tok2 == tok {
		t.Fatal("token reused")
	}
}

func TestASMX(t *testing.T) {
	f := newSim(t, leadexecsim.Options{Namespace: "https://api.leadexec.net/"})
	uid := f.sim.AddClient(leadexecsim.Client{Username: "acme", Status: "Suspended", DateAdded: time.Date(2026, 1, 15, 18, 5, 9, 0, time.UTC),
		Fields: map[int64]string{1001: "Acme & Sons"}})
	key := "Key=" + leadexecsim.DefaultKey
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"list by POST", "POST", "/service.asmx/GetClientList", key, 200, "<Status>8</Status>"},
		{"list by GET", "GET", "/service.asmx/GetClientList?" + key, "", 200, "<DateAdded>1/15/2026 10:05:09 AM</DateAdded>"},
		{"list lower-case path", "POST", "/Service.asmx/getclientlist", key, 200, `<ArrayOfClientItemType xmlns:xsi=`},
		{"no key", "POST", "/service.asmx/GetClientList", "", 500, "System.InvalidOperationException: Missing parameter: Key."},
		{"key spelled key", "POST", "/service.asmx/GetClientList", "key=" + leadexecsim.DefaultKey, 500, "Missing parameter: Key."},
		{"wrong key", "POST", "/service.asmx/GetClientList", "Key=nope", 500, "System.UnauthorizedAccessException: Invalid API key."},
		{"data", "POST", "/service.asmx/GetClientData", key + "&ClientUID=20001", 200, "<FieldValue>Acme &amp; Sons</FieldValue>"},
		{"data booleans", "POST", "/service.asmx/GetClientData", key + "&ClientUID=20001", 200, "<Required>false</Required>"},
		{"data enums", "POST", "/service.asmx/GetClientData", key + "&ClientUID=20001", 200, "<string>Afternoon</string>"},
		{"data no uid", "POST", "/service.asmx/GetClientData", key, 500, "Missing parameter: ClientUID."},
		{"data bad uid", "POST", "/service.asmx/GetClientData", key + "&ClientUID=abc", 500, "System.ArgumentException: Cannot convert abc to System.Int64."},
		{"data unknown client", "POST", "/service.asmx/GetClientData", key + "&ClientUID=5", 200, "<ArrayOfClientFieldItemType"},
		{"wrong verb", "PUT", "/service.asmx/GetClientList", key, 405, "not allowed"},
		{"unknown method", "POST", "/service.asmx/GetLeadTypes", key, 404, "cannot be found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(tc.method, tc.path, form, tc.body, nil)
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if tc.status == 200 && !strings.Contains(r.body, `xmlns="https://api.leadexec.net/"`) {
				t.Fatalf("namespace: %s", r.body)
			}
		})
	}
	if uid != 20001 {
		t.Fatalf("uid %d", uid)
	}
	if r := f.do("POST", "/service.asmx/GetClientData", form, key+"&ClientUID=5", nil); strings.Contains(r.body, "<ClientFieldItemType>") {
		t.Fatalf("unknown client has fields: %s", r.body)
	}
}

func TestAddEditClientSOAP(t *testing.T) {
	f := newSim(t, leadexecsim.Options{ClientFields: []leadexecsim.ClientFieldDef{
		{ClientFieldUID: 1, Descriptor: "Company", SpecialBit: "Company", Required: true},
		{ClientFieldUID: 2, Descriptor: "Email", SpecialBit: "Email"},
	}})
	soap := func(action, call string) reply {
		body := `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
			`<soap:Body><AddEditClient xmlns="http://tempuri.org/"><Key>` + leadexecsim.DefaultKey + `</Key>` + call +
			`</AddEditClient></soap:Body></soap:Envelope>`
		return f.do("POST", "/service.asmx", "text/xml; charset=utf-8", body, map[string]string{"SOAPAction": action})
	}
	const action = `"http://tempuri.org/AddEditClient"`
	cases := []struct {
		name, action, call, fault string
	}{
		{"wrong action", `"urn:other/AddEditClient"`, `<Client><ClientUID>-1</ClientUID></Client>`, "SOAPAction"},
		{"no client", action, ``, "Parameter name: Client"},
		{"no password", action, `<Client><ClientUID>-1</ClientUID></Client><FieldData><F><ClientFieldUID>1</ClientFieldUID><FieldValue>X</FieldValue></F></FieldData>`, "password is required"},
		{"required field", action, `<Client><ClientUID>-1</ClientUID><Password>p</Password></Client>`, `(1) is required`},
		{"bad status", action, `<Client><ClientUID>-1</ClientUID><Password>p</Password><Status>Asleep</Status></Client>`, "not a valid value for ClientStatus"},
		{"bad field", action, `<Client><ClientUID>-1</ClientUID><Password>p</Password></Client><FieldData><F><ClientFieldUID>9</ClientFieldUID><FieldValue>X</FieldValue></F></FieldData>`, "Client field 9 does not exist"},
		{"unknown client", action, `<Client><ClientUID>77</ClientUID></Client>`, "Client 77 was not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := soap(tc.action, tc.call)
			if r.status != 500 || !strings.Contains(r.body, "<faultcode>soap:Client</faultcode>") || !strings.Contains(r.body, tc.fault) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	if r := f.do("POST", "/service.asmx/AddEditClient", form, "Key="+leadexecsim.DefaultKey, nil); r.status != 500 ||
		!strings.Contains(r.body, "complex types") {
		t.Fatalf("form post: %d %s", r.status, r.body)
	}
	r := soap(action, `<Client><ClientUID>-1</ClientUID><Status>Pending</Status><Username>u1</Username><Password>p</Password>`+
		`<TimeOffset>-3</TimeOffset><TimeZoneName>Pacific Standard Time</TimeZoneName><OverrideReassign>true</OverrideReassign></Client>`+
		`<FieldData><ClientFieldItemType><ClientFieldUID>1</ClientFieldUID><FieldValue>Co</FieldValue></ClientFieldItemType>`+
		`<ClientFieldItemType><ClientFieldUID>2</ClientFieldUID><FieldValue>a@example.com</FieldValue></ClientFieldItemType></FieldData>`)
	if r.status != 200 || !strings.Contains(r.body, "<AddEditClientResult>20001</AddEditClientResult>") {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	c, _ := f.sim.ClientByUID(20001)
	if c.Status != "Pending" || c.Username != "u1" || c.TimeOffset != -3 || !c.OverrideReassign || c.Password != "p" ||
		c.TimeZoneName != "Pacific Standard Time" || c.Fields[1] != "Co" || c.Fields[2] != "a@example.com" || !c.DateAdded.Equal(simT0) {
		t.Fatalf("%+v", c)
	}
	// The Client is the whole client and FieldData the whole field set: an
	// edit that sends only Notes and one field resets the rest.
	if r := soap(action, `<Client><ClientUID>20001</ClientUID><Notes>n</Notes></Client>`+
		`<FieldData><F><ClientFieldUID>2</ClientFieldUID><FieldValue>b@example.com</FieldValue></F></FieldData>`); r.status != 200 {
		t.Fatalf("edit: %d %s", r.status, r.body)
	}
	c2, _ := f.sim.ClientByUID(20001)
	if c2.Notes != "n" || c2.Status != "New" || c2.Username != "" || c2.Password != "" || c2.TimeZoneName != "" ||
		c2.Fields[2] != "b@example.com" || len(c2.Fields) != 1 || !c2.DateAdded.Equal(simT0) {
		t.Fatalf("edit is not a whole replacement: %+v", c2)
	}
	if r := soap(action, `<Client><ClientUID>-1</ClientUID><Password>q</Password><Username>U2</Username></Client>`+
		`<FieldData><F><ClientFieldUID>1</ClientFieldUID><FieldValue>Y</FieldValue></F></FieldData>`); r.status != 200 {
		t.Fatalf("second client: %d %s", r.status, r.body)
	}
	if r := soap(action, `<Client><ClientUID>20001</ClientUID><Username>u2</Username></Client>`); r.status != 500 ||
		!strings.Contains(r.body, "already in use") {
		t.Fatalf("duplicate username: %d %s", r.status, r.body)
	}
}

func TestGetLeadFields(t *testing.T) {
	f := newSim(t, leadexecsim.Options{LeadTypes: []leadexecsim.LeadType{
		{UID: 201, Name: "Auto", Fields: []leadexecsim.LeadField{
			{Name: "FirstName", Required: true, SpecialBit: "FirstName"}, {Name: "VehicleYear", UID: 77}}},
	}})
	r := f.do("POST", "/service.asmx/GetLeadFields", form, "Key="+leadexecsim.DefaultKey+"&LeadTypeUID=201", nil)
	for _, want := range []string{"<ArrayOfLeadFieldItemType", "<LeadFieldUID>201001</LeadFieldUID>", "<Descriptor>FirstName</Descriptor>",
		"<Required>true</Required>", "<SpecialBit>FirstName</SpecialBit>", "<LeadFieldUID>77</LeadFieldUID>",
		"<Descriptor>VehicleYear</Descriptor>", "<SpecialBit>No_SpecialBit</SpecialBit>", "<LeadTypeUID>201</LeadTypeUID>"} {
		if r.status != 200 || !strings.Contains(r.body, want) {
			t.Fatalf("no %s in %d %s", want, r.status, r.body)
		}
	}
	if r := f.do("POST", "/service.asmx/GetLeadFields", form, "Key="+leadexecsim.DefaultKey+"&LeadTypeUID=5", nil); r.status != 200 ||
		strings.Contains(r.body, "<LeadFieldItemType>") {
		t.Fatalf("unknown lead type: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/service.asmx/GetLeadFields", form, "Key="+leadexecsim.DefaultKey, nil); r.status != 500 ||
		!strings.Contains(r.body, "Missing parameter: LeadTypeUID.") {
		t.Fatalf("no lead type: %d %s", r.status, r.body)
	}
	// A lead type changed by its administrator is answered and enforced at once.
	f.sim.SetLeadType(leadexecsim.LeadType{UID: 201, Name: "Auto", Fields: []leadexecsim.LeadField{
		{Name: "FirstName", Required: true}, {Name: "Email", Required: true, Kind: leadexecsim.KindEmail}}})
	r = f.do("POST", "/processor/insert/general", form, "vid=101&lid=201&aid=301&FirstName=Ana&VehicleYear=2020", nil)
	if !strings.Contains(r.body, "<ResponseDetails>VehicleYear is not a field of lead type 201; Email is required</ResponseDetails>") {
		t.Fatalf("changed lead type: %s", r.body)
	}
}

func TestQueryRequests(t *testing.T) {
	f := newSim(t, leadexecsim.Options{MaxTake: 2})
	auth := map[string]string{"Authorization": "Bearer " + f.token()}
	at := time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC)
	f.sim.AddLead(leadexecsim.StoredLead{UID: 9, DateAdded: at, Fields: map[string]string{"State": "CA", "Amount": "900"}})
	f.sim.AddLead(leadexecsim.StoredLead{UID: 3, DateAdded: at, Fields: map[string]string{"State": "OR", "Amount": "1000"}})
	f.sim.AddLead(leadexecsim.StoredLead{UID: 5, DateAdded: at.Add(time.Hour), Fields: map[string]string{"State": "ca", "Amount": "50"}})
	f.sim.AddLead(leadexecsim.StoredLead{UID: 7, DateAdded: at.Add(-time.Hour), LeadTypeUID: 999})
	query := func(body string) reply {
		return f.do("POST", "/v1/leads/query/201", "application/json", body, auth)
	}
	uids := func(r reply) []float64 {
		var out []float64
		for _, l := range r.json(t)["Leads"].([]any) {
			out = append(out, l.(map[string]any)["UID"].(float64))
		}
		return out
	}
	window := `"StartDate":"2026-11-01T08:30:00Z","EndDate":"2026-11-01T09:30:00Z"`
	cases := []struct {
		name  string
		body  string
		total float64
		uids  []float64
	}{
		{"sorted by date then uid, capped take", `{` + window + `}`, 3, []float64{3, 9}},
		{"skip", `{` + window + `,"Skip":2,"Take":5}`, 3, []float64{5}},
		{"skip past end", `{` + window + `,"Skip":9}`, 3, nil},
		{"desc", `{` + window + `,"SortOrder":"DESC"}`, 3, []float64{5, 9}},
		{"end is inclusive, start too", `{"StartDate":"2026-11-01T09:30:00Z","EndDate":"2026-11-01T09:30:00Z"}`, 1, []float64{5}},
		{"no-zone dates are UTC", `{"StartDate":"2026-11-01 08:30:00","EndDate":"11/1/2026 8:30:00 AM"}`, 2, []float64{3, 9}},
		{"equality filter", `{` + window + `,"Query":{"State":"CA"}}`, 2, []float64{9, 5}},
		{"range filter", `{` + window + `,"Query":{"Amount":{"$gte":100,"$lt":1000}}}`, 1, []float64{9}},
		{"in filter", `{` + window + `,"Query":{"State":{"$in":["OR","TX"]}}}`, 1, []float64{3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := query(tc.body)
			if r.status != 200 || r.json(t)["Total"] != tc.total {
				t.Fatalf("%d %s", r.status, r.body)
			}
			got := uids(r)
			if len(got) != len(tc.uids) {
				t.Fatalf("uids %v want %v", got, tc.uids)
			}
			for i := range got {
				if got[i] != tc.uids[i] {
					t.Fatalf("uids %v want %v", got, tc.uids)
				}
			}
		})
	}
	r := query(`{` + window + `,"Fields":["state"],"Take":1}`)
	l := r.json(t)["Leads"].([]any)[0].(map[string]any)
	props := l["Properties"].(map[string]any)
	if fields := l["Fields"].(map[string]any); len(fields) != 1 || fields["State"] != "OR" || props["DateAdded"] != "2026-11-01T08:30:00Z" {
		t.Fatalf("projection: %s", r.body)
	}
	for _, bad := range []string{`{}`, `{"StartDate":"2026-11-01"}`, `{"StartDate":"x","EndDate":"y"}`, `{` + window + `,"Skip":-1}`,
		`{` + window + `,"Query":{"State":{"$regex":"C"}}}`, `{` + window + `,"Query":{"State":{"$in":"CA"}}}`, `[`} {
		if r := query(bad); r.status != 400 {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
	if r := f.do("POST", "/v1/leads/query/999999", "application/json", `{`+window+`}`, auth); r.status != 404 {
		t.Errorf("unknown lead type: %d", r.status)
	}
	if r := f.do("POST", "/v1/leads/query/abc", "application/json", `{`+window+`}`, auth); r.status != 404 {
		t.Errorf("bad lead type: %d", r.status)
	}
}

func TestFaultControls(t *testing.T) {
	f := newSim(t, leadexecsim.Options{})
	key := "Key=" + leadexecsim.DefaultKey
	list := func() reply { return f.do("POST", "/service.asmx/GetClientList", form, key, nil) }
	f.sim.FailNext(leadexecsim.EndpointAny, 1, 0)
	if r := list(); r.status != 500 || !strings.Contains(r.body, "SqlException") {
		t.Fatalf("any: %d %s", r.status, r.body)
	}
	f.sim.RateLimitNext(leadexecsim.EndpointGetClientList, 1, 1500*time.Millisecond)
	if r := list(); r.status != 429 || r.header.Get("Retry-After") != "2" {
		t.Fatalf("429: %d %v", r.status, r.header)
	}
	f.sim.MalformNext(leadexecsim.EndpointGetClientList, 1)
	if r := list(); r.status != 200 || !strings.HasSuffix(r.body, "<!--") {
		t.Fatalf("malformed: %s", r.body)
	}
	f.sim.FailNext(leadexecsim.EndpointGetClientList, 3, 502)
	f.sim.ClearFaults()
	if r := list(); r.status != 200 {
		t.Fatalf("after ClearFaults: %d", r.status)
	}
	f.sim.SetRateLimit(leadexecsim.EndpointGetClientList, 1, time.Second, 0)
	list()
	if r := list(); r.status != 429 || r.header.Get("Retry-After") != "" {
		t.Fatalf("window: %d %v", r.status, r.header)
	}
	f.sim.SetRateLimit(leadexecsim.EndpointGetClientList, 0, 0, 0)
	if r := list(); r.status != 200 {
		t.Fatalf("limit removed: %d", r.status)
	}
	if n := f.sim.RequestCount(leadexecsim.EndpointGetClientList); n != 7 {
		t.Fatalf("count %d", n)
	}
	if r := f.do("GET", "/nope", "", "", nil); r.status != 404 {
		t.Fatalf("unknown path: %d", r.status)
	}
	f.sim.ResetCounts()
	if len(f.sim.RequestCounts()) != 0 {
		t.Fatal("counts not reset")
	}
}

func TestDropAfterCommitClosesConnection(t *testing.T) {
	f := newSim(t, leadexecsim.Options{})
	f.sim.DropAfterCommit(leadexecsim.EndpointInsertV1, 1)
	_, err := http.PostForm(f.url+"/processor/insert/general", url.Values{"vid": {"101"}, "lid": {"201"}, "FirstName": {"A"},
		"LastName": {"B"}, "Email": {"a@example.com"}, "PrimaryPhone": {"5035550100"}})
	if err == nil {
		t.Fatal("answered")
	}
	if n := len(f.sim.Leads()); n != 1 {
		t.Fatalf("%d leads committed", n)
	}
}

func TestDeterministic(t *testing.T) {
	run := func() string {
		f := newSim(t, leadexecsim.Options{})
		var out strings.Builder
		for _, body := range []string{"vid=101&lid=201&FirstName=A&LastName=B&Email=a@example.com&PrimaryPhone=5035550100",
			"vid=101&lid=201&FirstName=A&LastName=B&Email=a@example.com&PrimaryPhone=5035550100", "vid=101"} {
			out.WriteString(f.do("POST", "/processor/insert/general", form, body, nil).body)
		}
		out.WriteString(f.token())
		return out.String()
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("runs differ:\n%s\n%s", a, b)
	}
}

func TestCustomIDs(t *testing.T) {
	var mu sync.Mutex
	next := map[leadexecsim.IDKind]int64{}
	f := newSim(t, leadexecsim.Options{NextID: func(k leadexecsim.IDKind) int64 {
		mu.Lock()
		defer mu.Unlock()
		next[k]++
		return next[k] * 1000
	}})
	if uid := f.sim.AddClient(leadexecsim.Client{}); uid != 1000 {
		t.Fatalf("client %d", uid)
	}
	if uid := f.sim.AddLead(leadexecsim.StoredLead{}); uid != 1000 {
		t.Fatalf("lead %d", uid)
	}
}

func TestConcurrentPosts(t *testing.T) {
	f := newSim(t, leadexecsim.Options{})
	leads := leadexecsim.GenerateLeads(40, 7, nil)
	var wg sync.WaitGroup
	for _, l := range leads {
		wg.Go(func() {
			v := url.Values{"vid": {"101"}, "lid": {"201"}}
			for k, val := range l.Fields {
				v.Set(k, val)
			}
			resp, err := http.PostForm(f.url+"/processor/insert/general", v)
			if err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if n := f.sim.RequestCount(leadexecsim.EndpointInsertV1); n != 40 {
		t.Fatalf("%d requests", n)
	}
	seen := map[int64]bool{}
	for _, l := range f.sim.Leads() {
		if seen[l.UID] {
			t.Fatalf("uid %d twice", l.UID)
		}
		seen[l.UID] = true
	}
	if len(seen) == 0 {
		t.Fatal("nothing stored")
	}
}
