package leadexec_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/leadexec"
)

// seed adds every testdata file matching pattern to the corpus.
func seed(f *testing.F, pattern string) {
	f.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(names) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParsePostResponseXML(f *testing.F) {
	seed(f, "post_*.xml")
	f.Add([]byte(`<ArrayOfPostResponse><PostResponse><ResponseType>6</ResponseType></PostResponse></ArrayOfPostResponse>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := leadexec.ParsePostResponses(body, "text/xml")
		if err == nil && len(rs) == 0 {
			t.Fatal("no error and no responses")
		}
		if _, err := leadexec.ParsePostResponse(body, "text/xml"); err == nil {
			for _, r := range rs {
				_ = r.Outcome().String() + r.ResponseType.String()
				_ = r.Err()
			}
		}
	})
}

func FuzzParsePostResponseJSON(f *testing.F) {
	seed(f, "post_*.json")
	f.Add([]byte(`{"PostResponse":{"isValidPost":"True","ResponseType":"9","LeadIdentifier":""}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := leadexec.ParsePostResponses(body, "application/json")
		if err == nil && len(rs) == 0 {
			t.Fatal("no error and no responses")
		}
		for _, r := range rs {
			if r.IsValidPost && r.Outcome() != leadexec.Accepted {
				t.Fatalf("valid post not accepted: %+v", r)
			}
		}
	})
}

func FuzzParseClientList(f *testing.F) {
	seed(f, "client_list.xml")
	f.Add([]byte(`<ArrayOfClient><Client><ClientUID>1</ClientUID></Client></ArrayOfClient>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		cl, err := leadexec.ParseClientList(bytes.NewReader(body))
		if err != nil {
			return
		}
		for _, c := range cl {
			if _, ok := c.Extra["Password"]; ok {
				t.Fatal("password kept")
			}
		}
	})
}

func FuzzParseClientData(f *testing.F) {
	seed(f, "client_data.xml")
	f.Fuzz(func(t *testing.T, body []byte) {
		fs, err := leadexec.ParseClientData(bytes.NewReader(body))
		if err != nil {
			return
		}
		for _, fl := range fs {
			_ = fl.SpecialBit.String() + fl.DataType.String()
		}
	})
}

func FuzzParseLeadPage(f *testing.F) {
	seed(f, "lead_page.json")
	f.Add([]byte(`[{"uid":"7","properties":{"dateadded":"2026-11-01T01:30:00"}}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := leadexec.ParseLeadPage(bytes.NewReader(body))
		if err != nil {
			return
		}
		for _, l := range p.Leads {
			if l.UID <= 0 {
				t.Fatalf("lead without UID: %+v", l)
			}
			if !l.DateAdded.IsZero() && l.DateAdded.Location() != time.UTC {
				t.Fatalf("DateAdded not UTC: %v", l.DateAdded)
			}
		}
	})
}

func FuzzParseTokenResponse(f *testing.F) {
	seed(f, "token.json")
	f.Add([]byte(`{"error":"invalid_client"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tr, err := leadexec.ParseTokenResponse(body)
		if err != nil {
			if tok := extractToken(body); len(tok) >= 8 && strings.Contains(err.Error(), tok) {
				t.Fatalf("error %q quotes the token", err)
			}
			return
		}
		if tr.Error == "" && (tr.AccessToken == "" || tr.ExpiresIn <= 0) {
			t.Fatalf("accepted %+v", tr)
		}
	})
}

// extractToken finds a naive access_token string value, to check errors
// never quote it.
func extractToken(b []byte) string {
	s := string(b)
	i := strings.Index(s, `"access_token":"`)
	if i < 0 {
		return ""
	}
	s = s[i+len(`"access_token":"`):]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return ""
}

func FuzzParsePacific(f *testing.F) {
	for _, s := range []string{"1/5/2014 10:50:54 AM", "3/8/2026 2:30:00 AM", "11/1/2026 1:30:00 AM", "2026-07-04T12:00:00.5",
		"2026-07-04T12:00:00-05:00", "7/4/2026", "1/1/0001 12:00:00 AM", "12/31/9999 11:59:59 PM"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := leadexec.ParsePacific(s)
		if err != nil || got.IsZero() {
			return
		}
		// A time that reads back must format and read back to itself,
		// except that the second fall-back hour reads as the first; a
		// second pass is stable.
		once, err := leadexec.ParsePacific(leadexec.FormatPacific(got))
		if err != nil {
			t.Fatalf("%q → %v → %q: %v", s, got, leadexec.FormatPacific(got), err)
		}
		twice, err := leadexec.ParsePacific(leadexec.FormatPacific(once))
		if err != nil || !twice.Equal(once) {
			t.Fatalf("%q: not stable: %v, %v (%v)", s, once, twice, err)
		}
		if d := got.Truncate(time.Second).Sub(once); d < 0 || d > time.Hour {
			t.Fatalf("%q: %v formats and reads back as %v", s, got, once)
		}
	})
}

func FuzzParseLeadFields(f *testing.F) {
	f.Add([]byte(`<ArrayOfLeadFieldItemType xmlns="http://tempuri.org/"><LeadFieldItemType><LeadFieldUID>1</LeadFieldUID>` +
		`<Descriptor>Email</Descriptor><Required>true</Required><SpecialBit>Email</SpecialBit><FieldDataType>Varchar</FieldDataType>` +
		`</LeadFieldItemType></ArrayOfLeadFieldItemType>`))
	f.Add([]byte(`<ArrayOfX><X><LeadFieldUID>2</LeadFieldUID><Descriptor> </Descriptor></X></ArrayOfX>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fs, err := leadexec.ParseLeadFields(bytes.NewReader(body))
		if err != nil {
			return
		}
		for _, fd := range fs {
			if strings.TrimSpace(fd.Descriptor) == "" {
				t.Fatalf("a field without a name: %+v", fd)
			}
			_ = fd.HasSpecialBit()
		}
	})
}

func FuzzParseAddEditClientResponse(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
		`<AddEditClientResponse xmlns="http://tempuri.org/"><AddEditClientResult>20001</AddEditClientResult></AddEditClientResponse>` +
		`</soap:Body></soap:Envelope>`))
	f.Add([]byte(`<Envelope><Body><AddEditClientResponse/></Body></Envelope>`))
	f.Add([]byte(`<AddEditClientResponse><AddEditClientResult>-1</AddEditClientResult></AddEditClientResponse>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		id, answered, err := leadexec.ParseAddEditClientResponse(body)
		if err == nil && answered && id <= 0 {
			t.Fatalf("accepted id %d", id)
		}
		if !answered && id != 0 {
			t.Fatalf("id %d without an answer", id)
		}
	})
}
