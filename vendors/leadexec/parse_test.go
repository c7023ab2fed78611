package leadexec_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/leadexec"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseTestdata reads testdata/name with parse, which must find n items.
func parseTestdata[T any](t *testing.T, name string, parse func(io.Reader) ([]T, error), n int) []T {
	t.Helper()
	items, err := parse(bytes.NewReader(readTestdata(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != n {
		t.Fatalf("%s: %d items, want %d", name, len(items), n)
	}
	return items
}

func TestParsePostResponse(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		ctype string
		want  leadexec.PostResponse
		out   leadexec.Outcome
	}{
		{"accepted xml with namespace", string(readTestdata(t, "post_accepted.xml")), "text/xml", leadexec.PostResponse{
			PostID: "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", IsValidPost: true, ResponseType: leadexec.NoError,
			LeadIdentifier: 5000123456, VendorAccountAssigned: 301, Price: "25.00"}, leadexec.Accepted},
		{"rejected xml, ResponseDetail spelling, empty ids, True/False casing", string(readTestdata(t, "post_rejected.xml")), "", leadexec.PostResponse{
			ResponseType: leadexec.DataErrors, ResponseDetails: "Email is required; PrimaryPhone is invalid"}, leadexec.Rejected},
		{"duplicate json, numeric type, string bool", string(readTestdata(t, "post_duplicate.json")), "application/json", leadexec.PostResponse{
			PostID: "0c9a2f5e-8d64-4a3e-9f53-b1c0a9e4d7f2", ResponseType: leadexec.DuplicateLead, ResponseDetails: "Duplicate lead",
			Price: "0"}, leadexec.Exists},
		{"json wrapped in PostResponse", `{"PostResponse":{"isValidPost":"true","ResponseType":"0","LeadIdentifier":"42"}}`, "", leadexec.PostResponse{
			IsValidPost: true, ResponseType: leadexec.NoError, LeadIdentifier: 42}, leadexec.Accepted},
		{"one-element array", `[{"isValidPost":false,"ResponseType":"Post_Over_Max"}]`, "", leadexec.PostResponse{
			ResponseType: leadexec.PostOverMax}, leadexec.RetryLater},
		{"xml without declaration, other casing", `<postresponse><ISVALIDPOST>True</ISVALIDPOST><responsetype>outside_criteria</responsetype></postresponse>`, "",
			leadexec.PostResponse{IsValidPost: true, ResponseType: leadexec.OutsideCriteria}, leadexec.Accepted},
		{"unknown type is retried", `{"isValidPost":false,"ResponseType":"Brand_New_Reason"}`, "", leadexec.PostResponse{
			ResponseType: leadexec.ResponseUnknown}, leadexec.RetryLater},
		{"valid without type", `<PostResponse><isValidPost>true</isValidPost><LeadIdentifier>7</LeadIdentifier></PostResponse>`, "",
			leadexec.PostResponse{IsValidPost: true, ResponseType: leadexec.NoError, LeadIdentifier: 7}, leadexec.Accepted},
		{"BOM", "\ufeff" + `{"isValidPost":true,"ResponseType":"No_Error","LeadIdentifier":9.0}`, "", leadexec.PostResponse{
			IsValidPost: true, LeadIdentifier: 9}, leadexec.Accepted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := leadexec.ParsePostResponse([]byte(tc.body), tc.ctype)
			if err != nil {
				t.Fatal(err)
			}
			if got.PostID != tc.want.PostID || got.IsValidPost != tc.want.IsValidPost || got.ResponseType != tc.want.ResponseType ||
				got.ResponseDetails != tc.want.ResponseDetails || got.LeadIdentifier != tc.want.LeadIdentifier ||
				got.VendorAccountAssigned != tc.want.VendorAccountAssigned || got.Price != tc.want.Price {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if o := got.Outcome(); o != tc.out {
				t.Errorf("outcome %v, want %v", o, tc.out)
			}
		})
	}
}

func TestParsePostResponseErrors(t *testing.T) {
	for _, body := range []string{
		"", "   ", "<html><body>Server Error</body></html>", `{"status":"ok"}`, `[]`, `[1,2]`,
		`<PostResponse><isValidPost>maybe</isValidPost></PostResponse>`,
		`<PostResponse><isValidPost>true</isValidPost><LeadIdentifier>abc</LeadIdentifier></PostResponse>`,
		`<PostResponse><isValidPost>true</isValidPost>`, `{"isValidPost":true} trailing`,
		`{"isValidPost":true,"LeadIdentifier":99999999999999999999}`,
		"<?xml version=\"1.0\" encoding=\"utf-16\"?><PostResponse><isValidPost>true</isValidPost></PostResponse>",
		`<a><b/></a><c/>`,
	} {
		if r, err := leadexec.ParsePostResponse([]byte(body), "text/xml"); err == nil {
			t.Errorf("%q parsed as %+v", body, r)
		}
	}
}

func TestParsePostResponsesV2(t *testing.T) {
	rs, err := leadexec.ParsePostResponses(readTestdata(t, "post_v2.json"), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].LeadIdentifier != 5000000001 || rs[0].Price != "25.00" || rs[1].ResponseType != leadexec.PostOverMax ||
		rs[1].LeadIdentifier != 0 {
		t.Fatalf("%+v", rs)
	}
	wrapped := `{"results":` + string(readTestdata(t, "post_v2.json")) + `}`
	if rs, err := leadexec.ParsePostResponses([]byte(wrapped), ""); err != nil || len(rs) != 2 {
		t.Fatalf("wrapped: %v %v", rs, err)
	}
	xmlArr := `<ArrayOfPostResponse><PostResponse><isValidPost>true</isValidPost><ResponseType>No_Error</ResponseType></PostResponse>` +
		`<PostResponse><isValidPost>false</isValidPost><ResponseType>Duplicate_Lead</ResponseType></PostResponse></ArrayOfPostResponse>`
	if rs, err := leadexec.ParsePostResponses([]byte(xmlArr), ""); err != nil || len(rs) != 2 || rs[1].ResponseType != leadexec.DuplicateLead {
		t.Fatalf("xml array: %v %v", rs, err)
	}
}

func TestResponseTypes(t *testing.T) {
	want := map[leadexec.ResponseType]struct {
		name string
		out  leadexec.Outcome
	}{
		leadexec.NoError: {"No_Error", leadexec.Accepted}, leadexec.SystemIDMissing: {"System_ID_Missing", leadexec.Rejected},
		leadexec.LeadTypeIDMissing: {"LeadType_ID_Missing", leadexec.Rejected}, leadexec.VendorIDMissing: {"Vendor_ID_Missing", leadexec.Rejected},
		leadexec.NoAccountFound: {"No_Account_Found", leadexec.Rejected}, leadexec.OutsideCriteria: {"Outside_Criteria", leadexec.Rejected},
		leadexec.DuplicateLead: {"Duplicate_Lead", leadexec.Exists}, leadexec.AccountDisabled: {"Account_Disabled", leadexec.Rejected},
		leadexec.PostOverMax: {"Post_Over_Max", leadexec.RetryLater}, leadexec.DataErrors: {"Data_Errors", leadexec.Rejected},
	}
	for rt := leadexec.NoError; rt <= leadexec.DataErrors; rt++ {
		w := want[rt]
		if rt.String() != w.name || rt.Outcome() != w.out || rt.Permanent() != (w.out == leadexec.Rejected) {
			t.Errorf("%d: %s %v", int(rt), rt, rt.Outcome())
		}
		for _, in := range []string{w.name, strings.ToLower(w.name), strings.ReplaceAll(w.name, "_", ""), string(rune('0' + rt))} {
			if got, err := leadexec.ParseResponseType(in); err != nil || got != rt {
				t.Errorf("ParseResponseType(%q) = %v, %v", in, got, err)
			}
		}
	}
	if got, _ := leadexec.ParseResponseType("12"); got != leadexec.ResponseUnknown {
		t.Errorf("12 → %v", got)
	}
}

func TestPostResponseErr(t *testing.T) {
	over := leadexec.PostResponse{ResponseType: leadexec.PostOverMax}
	err := over.Err()
	if err == nil || !apierr.Temporary(err) || apierr.Classify(err) != apierr.RateLimited {
		t.Fatalf("over max: %v %v", err, apierr.Classify(err))
	}
	bad := leadexec.PostResponse{ResponseType: leadexec.DataErrors, ResponseDetails: "Email is invalid"}
	if err := bad.Err(); err == nil || apierr.Temporary(err) || !strings.Contains(err.Error(), "Email is invalid") {
		t.Fatalf("data errors: %v", err)
	}
	if err := (leadexec.PostResponse{ResponseType: leadexec.DuplicateLead}).Err(); err != nil {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestParseClientList(t *testing.T) {
	cl := parseTestdata(t, "client_list.xml", leadexec.ParseClientList, 2)
	a := cl[0]
	wantAdded := time.Date(2014, 1, 5, 18, 50, 54, 0, time.UTC) // PST is UTC-8 in January
	if a.ClientUID != 20001 || a.AccountUID != 1 || !a.DateAdded.Equal(wantAdded) || a.Status != 6 || a.UserUID != 12 ||
		a.TimeOffset != -3 || a.Notes != "Prefers email & calls after 5pm" || a.TimeZoneName != "Eastern Standard Time" ||
		a.ResellerUID != -1 || a.AutomationType != "Price" || a.Priority != 1 || a.Username != "acme-roofing" ||
		!a.ShowLeadSource || !a.ShowCampaign || a.ShowLeadGrade || !a.OverrideReassign {
		t.Errorf("client 0: %+v", a)
	}
	if a.Extra["Region"] != "West" || len(a.Extra) != 1 {
		t.Errorf("extra: %v", a.Extra)
	}
	if strings.Contains(strings.Join([]string{a.Username, a.Notes, a.Extra["Password"]}, " "), "portal-pass-1") {
		t.Error("portal password kept")
	}
	b := cl[1]
	// 1:30 AM on 11/1/2026 happens twice; the first (PDT, UTC-7) is taken.
	if b.ClientUID != 20002 || !b.DateAdded.Equal(time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC)) || b.AutomationType != "RoundRobin" {
		t.Errorf("client 1: %+v", b)
	}
}

func TestParseClientListShapes(t *testing.T) {
	cases := []struct {
		name string
		body string
		uids []int64
	}{
		{"empty array", `<ArrayOfClient xmlns="urn:x"/>`, nil},
		{"single item array", `<ArrayOfClient><Client><ClientUID>5</ClientUID></Client></ArrayOfClient>`, []int64{5}},
		{"bare item", `<Client xmlns="http://tempuri.org/"><ClientUID>6</ClientUID></Client>`, []int64{6}},
		{"wrapped", `<GetClientListResponse><GetClientListResult><C><ClientUID>7</ClientUID></C><C><ClientUID>8</ClientUID></C></GetClientListResult></GetClientListResponse>`, []int64{7, 8}},
		{"prefixed namespace", `<a:ArrayOfX xmlns:a="urn:a"><a:X><a:clientuid>9</a:clientuid></a:X></a:ArrayOfX>`, []int64{9}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := leadexec.ParseClientList(strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, c := range cl {
				got = append(got, c.ClientUID)
			}
			if !equalInts(got, tc.uids) {
				t.Errorf("got %v want %v", got, tc.uids)
			}
		})
	}
	for _, bad := range []string{
		`<ArrayOfClient><Client><Name>x</Name></Client></ArrayOfClient>`,
		`<ArrayOfClient><Client><ClientUID>x</ClientUID></Client></ArrayOfClient>`,
		`<ArrayOfClient><Client><ClientUID>1</ClientUID><DateAdded>yesterday</DateAdded></Client></ArrayOfClient>`,
		`<ArrayOfClient><Client><ClientUID>1</ClientUID><Status>99999999999</Status></Client></ArrayOfClient>`,
		`<ArrayOfClient><Client><ClientUID>1</ClientUID>`,
		`System.InvalidOperationException: Missing parameter: Key.`,
		`<!DOCTYPE html><html><head><title>Runtime Error</title></head><body><h1>Server Error</h1></body></html>`,
	} {
		if cl, err := leadexec.ParseClientList(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed: %+v", bad, cl)
		}
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseClientData(t *testing.T) {
	fs := parseTestdata(t, "client_data.xml", leadexec.ParseClientData, 3)
	c := fs[0]
	if c.ClientFieldUID != 1001 || c.Descriptor != "Company Name" || c.DataType != leadexec.DataTypeVarchar || !c.Required ||
		c.SpecialBit != leadexec.SpecialCompany || c.FieldValue != "Acme Roofing <West>" || len(c.PastValues) != 1 ||
		c.PastValues[0] != "Acme Roofing" || len(c.Enums) != 0 {
		t.Errorf("company: %+v", c)
	}
	if e, ok := leadexec.FieldBySpecialBit(fs, leadexec.SpecialEmail); !ok || e.FieldValue != "buyer@acme.example" || e.DataType != leadexec.DataTypeVarchar {
		t.Errorf("email by number: %+v %v", e, ok)
	}
	if f := fs[2]; f.SpecialBit != leadexec.SpecialNone || !f.Enumerated || len(f.Enums) != 2 || f.Enums[1] != "Evening" {
		t.Errorf("custom: %+v", f)
	}
	if _, ok := leadexec.FieldBySpecialBit(fs, leadexec.SpecialZip); ok {
		t.Error("zip found")
	}
}

func TestSpecialBitAndDataTypeNames(t *testing.T) {
	names := []string{"NoSpecialBit", "Company", "FirstName", "LastName", "Email", "PrimaryPhone", "PrimaryPhoneExt",
		"AlternatePhone", "Address", "City", "State", "Zip", "AlternatePhoneExt", "FaxNumber", "Comments", "JobTitle",
		"WebSite", "MobilePhone"}
	for i, n := range names {
		b := leadexec.SpecialBit(i)
		if b.String() != n || leadexec.ParseSpecialBit(n) != b || leadexec.ParseSpecialBit(strings.ToUpper(n)) != b ||
			leadexec.ParseSpecialBit(string(rune('0'+i/10))+string(rune('0'+i%10))) != b {
			t.Errorf("%d %s", i, n)
		}
	}
	if leadexec.ParseSpecialBit("ConsentText") != leadexec.SpecialUnknown || leadexec.ParseSpecialBit("") != leadexec.SpecialNone {
		t.Error("unknown/empty special bit")
	}
	for i, n := range []string{"No_DataType", "Int", "Bigint", "Bit", "Money", "Decimal", "Float", "DateTime", "Varchar"} {
		if d := leadexec.ParseDataType(n); d != leadexec.DataType(i) || d.String() != n {
			t.Errorf("%s → %v", n, d)
		}
	}
}

func TestParseLeadPage(t *testing.T) {
	p, err := leadexec.ParseLeadPage(bytes.NewReader(readTestdata(t, "lead_page.json")))
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 3 || len(p.Leads) != 2 {
		t.Fatalf("%+v", p)
	}
	a, b := p.Leads[0], p.Leads[1]
	if a.UID != 5000000001 || !a.DateAdded.Equal(time.Date(2026, 3, 8, 9, 59, 59, 0, time.UTC)) || a.Fields["Email"] != "ana@example.com" ||
		a.Properties["LeadSource"] != "101" || a.Properties["IsValid"] != "true" || a.Properties["reference"] != "crm-77" {
		t.Errorf("lead 0: %+v", a)
	}
	if b.UID != 5000000002 || !b.DateAdded.Equal(time.Date(2026, 3, 8, 10, 0, 0, 250e6, time.UTC)) || b.Fields["LoanAmount"] != "150000" ||
		b.Fields["Tags"] != `["a","b"]` || b.TCPA["IPAddress"] != "203.0.113.7" {
		t.Errorf("lead 1: %+v", b)
	}
	q := leadexec.Query{Take: 2}
	next, more := p.Next(q)
	if !more || next.Skip != 2 {
		t.Errorf("next %+v %v", next, more)
	}
	if _, more := (leadexec.LeadPage{Total: 3, Leads: p.Leads[:1]}).Next(leadexec.Query{Skip: 2}); more {
		t.Error("page past total has more")
	}

	if p, err := leadexec.ParseLeadPage(strings.NewReader(`[{"uid":1,"properties":{"dateadded":"1/5/2014 10:50:54 AM"}}]`)); err != nil ||
		p.Total != 1 || !p.Leads[0].DateAdded.Equal(time.Date(2014, 1, 5, 10, 50, 54, 0, time.UTC)) {
		t.Errorf("bare array: %+v %v", p, err)
	}
	if p, err := leadexec.ParseLeadPage(strings.NewReader(`{"Leads":null}`)); err != nil || p.Total != -1 || len(p.Leads) != 0 {
		t.Errorf("null leads: %+v %v", p, err)
	}
	for _, bad := range []string{``, `{}`, `{"Total":-1,"Leads":[]}`, `{"Leads":[{"Fields":{}}]}`, `{"Leads":[{"UID":0}]}`,
		`{"Leads":[{"UID":1,"Properties":[]}]}`, `{"Leads":[{"UID":1,"Properties":{"DateAdded":"soon"}}]}`, `{"Leads":{}}`, `{"Leads":[]}x`} {
		if p, err := leadexec.ParseLeadPage(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed: %+v", bad, p)
		}
	}
}

func TestParseTokenResponse(t *testing.T) {
	tr, err := leadexec.ParseTokenResponse(readTestdata(t, "token.json"))
	if err != nil || tr.AccessToken != "eyJhbGciOiJIUzI1NiJ9.e30.sim" || tr.ExpiresIn != time.Hour {
		t.Fatalf("%+v %v", tr, err)
	}
	if tr, err := leadexec.ParseTokenResponse([]byte(`{"access_token":"a","expires_in":"60"}`)); err != nil || tr.ExpiresIn != time.Minute {
		t.Errorf("string expires_in: %+v %v", tr, err)
	}
	if tr, err := leadexec.ParseTokenResponse([]byte(`{"error":"invalid_client"}`)); err != nil || tr.Error != "invalid_client" {
		t.Errorf("error answer: %+v %v", tr, err)
	}
	for _, bad := range []string{`{}`, `{"access_token":"a b"}`, `{"access_token":"a","token_type":"mac"}`,
		`{"access_token":"sekrit","expires_in":"soon"}`, `[]`, `{"access_token":"a","expires_in":-5}`} {
		_, err := leadexec.ParseTokenResponse([]byte(bad))
		if err == nil {
			t.Errorf("%s accepted", bad)
		} else if strings.Contains(err.Error(), "sekrit") {
			t.Errorf("error quotes the token: %v", err)
		}
	}
}
