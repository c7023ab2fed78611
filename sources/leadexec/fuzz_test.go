package leadexec

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// Bodies shaped as LeadExec renders them: fields in order with the lead id
// first, JSON strings, XML under <Lead> with the XML declaration.
var (
	seedForms = []string{
		`LeadUID=1001&Email=ann%40example.com&FirstName=Ann&LastName=Lee&PrimaryPhone=%28555%29+010-2000`,
		`LeadUID=1002&Comments=a%26b%3Dc%3Cd%3E%22e%27%0D%0A%09f&Email=zo%C3%AB%40example.com&FirstName=Zo%C3%AB`,
		`LeadUID=1003&Email=&FavoriteColor=`,
		`LeadUID=1&LeadUID=2`,
		`a=%ff&b`,
		`=x;y=%zz`,
	}
	seedJSONs = []string{
		`{"LeadUID":"1001","Email":"ann@example.com","FirstName":"Ann","LastName":"Lee"}`,
		`{"LeadUID":1002,"Email":"bo@example.com","Score":12.5,"Vip":true,"Fax":null,"Notes":"a\u0000b \ud83d\ude00 \"q\""}`,
		`{"LeadUID":"1","Email":"a@example.com","Email":"b@example.com"}`,
		`{"LeadUID":"1","x":{"y":[1,2]}}`,
		`[[[[[[[[[[`,
		`{"a":"b"} {}`,
		"{\"a\":\"\xff\"}",
		`  {"":""}  `,
	}
	seedXMLs = []string{
		`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Lead><LeadUID>1001</LeadUID><Email>ann@example.com</Email><FirstName>Ann</FirstName></Lead>`,
		`<Lead><LeadUID>1002</LeadUID><Comments>a&amp;b=c&lt;d&gt;"e'&#xD;&#xA;f</Comments><Email>zoë@example.com</Email><Notes><![CDATA[x <y>]]></Notes><Empty/></Lead>`,
		`<!DOCTYPE Lead [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Lead><Notes>&b;</Notes></Lead>`,
		`<Lead><a><b><c/></b></a></Lead>`,
		`<Lead><Email>a</Email><Email>b</Email></Lead><x/>`,
		`<ns:Lead xmlns:ns="urn:x"><ns:LeadUID>1</ns:LeadUID></ns:Lead>`,
		"<Lead><F>\xff</F></Lead>",
	}
)

// checkParsed is the invariant of every body parser: an error, or fields
// with non-empty UTF-8 names and UTF-8 values.
func checkParsed(t *testing.T, m map[string]string, err error) {
	t.Helper()
	if err != nil {
		if m != nil {
			t.Fatalf("fields %q returned with error %v", m, err)
		}
		if !utf8.ValidString(err.Error()) {
			t.Fatalf("error message is not UTF-8: %q", err.Error())
		}
		return
	}
	if m == nil {
		t.Fatal("nil fields without an error")
	}
	for k, v := range m {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			t.Fatalf("field %q = %q accepted", k, v)
		}
	}
}

// fuzzParser fuzzes the body parser parse from seeds: every answer keeps
// checkParsed's invariant, and accepted, when set, checks each body parse
// accepts against the fields it gave.
func fuzzParser(f *testing.F, seeds []string, parse func([]byte) (map[string]string, error), accepted func(t *testing.T, b []byte, m map[string]string)) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parse(b)
		checkParsed(t, m, err)
		if err == nil && accepted != nil {
			accepted(t, b, m)
		}
	})
}

func FuzzParseForm(f *testing.F) {
	fuzzParser(f, seedForms, ParseForm, func(t *testing.T, b []byte, _ map[string]string) {
		if _, err := url.ParseQuery(string(b)); err != nil {
			t.Fatalf("accepted a body url.ParseQuery refuses: %v", err)
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	fuzzParser(f, seedJSONs, ParseJSON, func(t *testing.T, b []byte, m map[string]string) {
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Fatalf("accepted a body that is not one JSON object: %v", err)
		}
		if len(obj) != len(m) {
			t.Fatalf("parsed %d fields, the object has %d", len(m), len(obj))
		}
	})
}

func FuzzParseXML(f *testing.F) { fuzzParser(f, seedXMLs, ParseXML, nil) }

// FuzzServeHTTP drives the whole receiver, per content type: whatever the
// query string and body, the answer is 2xx or 4xx, a rejection publishes
// nothing and never carries the success text, and what is published has a
// lead id and UTF-8 fields.
func FuzzServeHTTP(f *testing.F) {
	cts := []string{"application/x-www-form-urlencoded", "application/json", "application/xml", "", "text/plain"}
	for _, s := range seedForms {
		f.Add(uint8(0), "", []byte(s))
	}
	for _, s := range seedJSONs {
		f.Add(uint8(1), "", []byte(s))
	}
	for _, s := range seedXMLs {
		f.Add(uint8(2), "", []byte(s))
	}
	f.Add(uint8(3), "LeadUID=7&Email=q%40example.com", []byte(""))
	f.Add(uint8(1), "Source=web", []byte(`{"LeadUID":"8","Email":"r@example.com","Source":"web"}`))
	f.Add(uint8(4), "", []byte("LeadUID=9"))
	rcv, rec := newRecordingReceiver(f, Config{})
	f.Fuzz(func(t *testing.T, ct uint8, query string, body []byte) {
		target := DefaultPath
		if query != "" {
			target += "?" + query
		}
		if _, err := url.ParseRequestURI(target); err != nil {
			t.Skip() // not a request line an HTTP server would hand over
		}
		req := httptest.NewRequest(http.MethodPost, "http://crmsync.test/", strings.NewReader(string(body)))
		req.URL.RawQuery = query
		if c := cts[int(ct)%len(cts)]; c != "" {
			req.Header.Set("Content-Type", c)
		}
		before := len(rec.Events())
		dups := rcv.Stats.Duplicates.Load()
		w := httptest.NewRecorder()
		rcv.ServeHTTP(w, req)
		evs := rec.Events()
		switch {
		case w.Code == http.StatusOK:
			if len(evs) == before && rcv.Stats.Duplicates.Load() == dups {
				t.Fatal("answered success without publishing")
			}
		case w.Code >= 400 && w.Code < 500:
			if len(evs) != before {
				t.Fatalf("answered %d and published", w.Code)
			}
			if strings.Contains(w.Body.String(), DefaultSuccessText) {
				t.Fatalf("rejection carries the success text: %s", w.Body)
			}
		default:
			t.Fatalf("answered %d: %s", w.Code, w.Body)
		}
		for _, ev := range evs[before:] {
			if strings.TrimSpace(ev.ExternalID) == "" || !utf8.ValidString(ev.ExternalID) {
				t.Fatalf("published lead id %q", ev.ExternalID)
			}
			for k, v := range ev.Fields {
				if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
					t.Fatalf("published field %q = %q", k, v)
				}
			}
		}
	})
}
