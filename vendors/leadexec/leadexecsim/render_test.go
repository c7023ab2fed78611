package leadexecsim

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// trickyLead has values that need escaping in every format.
var trickyLead = Lead{UID: 7_000_000_000_001, Fields: map[string]string{
	"FirstName": "Zoë",
	"LastName":  "O'Brien & <Sons>",
	"Email":     "Zoe@example.com",
	"Zip":       "02134",
}}

func mustSender(t *testing.T, d Delivery) *Sender {
	t.Helper()
	s, err := NewSender(d)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	return s
}

func TestRender(t *testing.T) {
	const hook = "http://example.test/hook?token=abc"
	tests := []struct {
		name            string
		d               Delivery
		lead            Lead
		wantURL         string
		wantContentType string
		wantBody        string
		wantPost        string // defaults to wantBody
	}{
		{
			name: "form", d: Delivery{URL: hook}, lead: trickyLead,
			wantURL: hook, wantContentType: "application/x-www-form-urlencoded",
			wantBody: "LeadUID=7000000000001&Email=Zoe%40example.com&FirstName=Zo%C3%AB&LastName=O%27Brien+%26+%3CSons%3E&Zip=02134",
		},
		{
			name: "query appends to existing query", d: Delivery{URL: hook, Format: FormatQuery, Method: "GET"}, lead: trickyLead,
			wantURL:  hook + "&LeadUID=7000000000001&Email=Zoe%40example.com&FirstName=Zo%C3%AB&LastName=O%27Brien+%26+%3CSons%3E&Zip=02134",
			wantPost: "LeadUID=7000000000001&Email=Zoe%40example.com&FirstName=Zo%C3%AB&LastName=O%27Brien+%26+%3CSons%3E&Zip=02134",
		},
		{
			name: "query on URL without query", d: Delivery{URL: "http://example.test/hook", Format: FormatQuery}, lead: Lead{UID: 5, Fields: map[string]string{"A": "1"}},
			wantURL: "http://example.test/hook?LeadUID=5&A=1", wantPost: "LeadUID=5&A=1",
		},
		{
			name: "json", d: Delivery{URL: hook, Format: FormatJSON}, lead: trickyLead,
			wantURL: hook, wantContentType: "application/json",
			wantBody: `{"LeadUID":"7000000000001","Email":"Zoe@example.com","FirstName":"Zoë","LastName":"O'Brien & <Sons>","Zip":"02134"}`,
		},
		{
			name: "xml", d: Delivery{URL: hook, Format: FormatXML}, lead: trickyLead,
			wantURL: hook, wantContentType: "application/xml",
			wantBody: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
				`<Lead><LeadUID>7000000000001</LeadUID><Email>Zoe@example.com</Email><FirstName>Zoë</FirstName>` +
				`<LastName>O&#39;Brien &amp; &lt;Sons&gt;</LastName><Zip>02134</Zip></Lead>`,
		},
		{
			name: "field map renames, drops unmapped, sends missing as empty",
			d: Delivery{URL: hook, IDField: "lead_id", FieldMap: map[string]string{
				"FirstName": "first_name", "Email": "email", "PrimaryPhone": "phone",
			}},
			lead: trickyLead, wantURL: hook, wantContentType: "application/x-www-form-urlencoded",
			wantBody: "lead_id=7000000000001&email=Zoe%40example.com&first_name=Zo%C3%AB&phone=",
		},
		{
			name: "no id field", d: Delivery{URL: hook, Format: FormatJSON, IDField: NoIDField},
			lead:    Lead{UID: 9, Fields: map[string]string{"B": "2", "A": "1"}},
			wantURL: hook, wantContentType: "application/json", wantBody: `{"A":"1","B":"2"}`,
		},
		{
			name: "lead id wins over a lead field of the same name", d: Delivery{URL: hook, Format: FormatJSON},
			lead:    Lead{UID: 9, Fields: map[string]string{"LeadUID": "spoof", "A": "1"}},
			wantURL: hook, wantContentType: "application/json", wantBody: `{"LeadUID":"9","A":"1"}`,
		},
		{
			name: "nil fields", d: Delivery{URL: hook, Format: FormatXML}, lead: Lead{UID: 1},
			wantURL: hook, wantContentType: "application/xml",
			wantBody: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Lead><LeadUID>1</LeadUID></Lead>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSender(t, tt.d)
			r, err := s.Render(tt.lead)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if r.URL != tt.wantURL {
				t.Errorf("URL = %q\nwant  %q", r.URL, tt.wantURL)
			}
			if r.ContentType != tt.wantContentType {
				t.Errorf("ContentType = %q, want %q", r.ContentType, tt.wantContentType)
			}
			if string(r.Body) != tt.wantBody {
				t.Errorf("Body = %s\nwant   %s", r.Body, tt.wantBody)
			}
			wantPost := tt.wantPost
			if wantPost == "" {
				wantPost = tt.wantBody
			}
			if r.PostString != wantPost {
				t.Errorf("PostString = %q, want %q", r.PostString, wantPost)
			}
			// Deterministic: a second render is byte-identical.
			r2, _ := s.Render(tt.lead)
			if string(r2.Body) != string(r.Body) || r2.URL != r.URL {
				t.Error("second render differs")
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name string
		d    Delivery
		lead Lead
	}{
		{"XML field name with space", Delivery{Format: FormatXML}, Lead{UID: 1, Fields: map[string]string{"First Name": "x"}}},
		{"XML field name starting with digit", Delivery{Format: FormatXML}, Lead{UID: 1, Fields: map[string]string{"1st": "x"}}},
		{"empty field name", Delivery{}, Lead{UID: 1, Fields: map[string]string{"": "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.d.URL = "http://example.test/"
			_, err := mustSender(t, tt.d).Render(tt.lead)
			if !errors.Is(err, ErrRender) {
				t.Fatalf("err = %v, want ErrRender", err)
			}
		})
	}
}

// parseBody decodes a rendered request the way a receiver would.
func parseBody(t testing.TB, f Format, r Rendered) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch f {
	case FormatForm, FormatQuery:
		raw := string(r.Body)
		if f == FormatQuery {
			u, err := url.Parse(r.URL)
			if err != nil {
				t.Fatalf("parse URL: %v", err)
			}
			raw = u.RawQuery
		}
		v, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatalf("parse form: %v", err)
		}
		for k, vs := range v {
			if len(vs) != 1 {
				t.Fatalf("field %q sent %d times", k, len(vs))
			}
			out[k] = vs[0]
		}
	case FormatJSON:
		if err := json.Unmarshal(r.Body, &out); err != nil {
			t.Fatalf("parse JSON %q: %v", r.Body, err)
		}
	case FormatXML:
		var doc xmlLead
		if err := xml.Unmarshal(r.Body, &doc); err != nil {
			t.Fatalf("parse XML %q: %v", r.Body, err)
		}
		return doc.fields(t)
	}
	return out
}

// xmlLead is how a receiver decodes <Lead><Name>value</Name>…</Lead>.
type xmlLead struct {
	XMLName xml.Name `xml:"Lead"`
	Fields  []struct {
		XMLName xml.Name
		Value   string `xml:",chardata"`
	} `xml:",any"`
}

func (x xmlLead) fields(t testing.TB) map[string]string {
	t.Helper()
	out := make(map[string]string, len(x.Fields))
	for _, f := range x.Fields {
		if _, dup := out[f.XMLName.Local]; dup {
			t.Fatalf("field %q sent twice", f.XMLName.Local)
		}
		out[f.XMLName.Local] = f.Value
	}
	return out
}

// xmlSafe replaces what XML cannot carry with U+FFFD, as xml.EscapeText does.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0x09 || r == 0x0A || r == 0x0D ||
			r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF {
			return r
		}
		return utf8.RuneError
	}, s)
}

// validUTF8 replaces each invalid byte with U+FFFD, as encoding/json does.
func validUTF8(s string) string { return strings.Map(func(r rune) rune { return r }, s) }

// FuzzRenderRoundTrip checks that whatever a lead holds, every format renders
// something a receiver parses back to the same fields.
func FuzzRenderRoundTrip(f *testing.F) {
	f.Add("FirstName", "Zoë")
	f.Add("Notes", "a&b=c<d>\"e'\r\n\tf")
	f.Add("LeadUID", "spoof")
	f.Add("x", "\x00\x01\uFFFE")
	f.Add("Comments", "]]><![CDATA[")
	f.Fuzz(func(t *testing.T, name, value string) {
		lead := Lead{UID: 42, Fields: map[string]string{name: value, "Email": value}}
		for _, format := range []Format{FormatForm, FormatQuery, FormatJSON, FormatXML} {
			s := mustSender(t, Delivery{URL: "http://example.test/h?k=v", Format: format})
			r, err := s.Render(lead)
			if name == "" || format == FormatXML && !validXMLName(name) {
				if !errors.Is(err, ErrRender) {
					t.Fatalf("%s: name %q: err = %v, want ErrRender", format, name, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: Render: %v", format, err)
			}
			if format == FormatQuery && name == "k" {
				continue // collides with the URL's own parameter
			}
			got := parseBody(t, format, r)
			if format == FormatQuery {
				if got["k"] != "v" {
					t.Fatalf("query lost the URL's own parameter: %v", got)
				}
				delete(got, "k")
			}
			clean := func(s string) string { return s }
			switch format {
			case FormatJSON:
				clean = validUTF8
			case FormatXML:
				clean = xmlSafe
			}
			want := map[string]string{"LeadUID": "42", "Email": clean(value)}
			if name != "LeadUID" {
				want[clean(name)] = clean(value)
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("%s: field %q = %q, want %q (body %q)", format, k, got[k], v, r.Body)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%s: got fields %v, want %v", format, got, want)
			}
		}
	})
}
