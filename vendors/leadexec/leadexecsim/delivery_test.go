package leadexecsim

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewSenderDefaults(t *testing.T) {
	s, err := NewSender(Delivery{URL: "https://buyer.example/hook"})
	if err != nil {
		t.Fatal(err)
	}
	d := s.Delivery()
	checks := []struct {
		name      string
		got, want any
	}{
		{"Method", d.Method, http.MethodPost},
		{"Format", d.Format, FormatForm},
		{"IDField", d.IDField, "LeadUID"},
		{"ResponseSearch", d.ResponseSearch, "success"},
		{"MaxRetries", d.MaxRetries, 0},
		{"RetryDelay", d.RetryDelay, 5 * time.Minute},
		{"Timeout", d.Timeout, 30 * time.Second},
		{"Client.Timeout", d.Client.Timeout, 30 * time.Second},
		{"Now set", d.Now != nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestNewSenderNormalisesMethod(t *testing.T) {
	s, err := NewSender(Delivery{URL: "http://h/x", Method: "patch", Format: FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Delivery().Method; got != http.MethodPatch {
		t.Errorf("Method = %q, want PATCH", got)
	}
}

func TestNewSenderValidation(t *testing.T) {
	ok := Delivery{URL: "https://buyer.example/hook"}
	tests := []struct {
		name    string
		mod     func(*Delivery)
		wantErr []string // substrings of the error, one per expected problem; nil = valid
	}{
		{"valid defaults", func(*Delivery) {}, nil},
		{"valid everything", func(d *Delivery) {
			d.Method, d.Format, d.BearerToken = "GET", FormatQuery, "tok"
			d.Headers = map[string]string{"X-Api-Key": "k"}
			d.FieldMap = map[string]string{"FirstName": "first_name"}
			d.ResponseSearch, d.UseRegex = `"ok"\s*:\s*true`, true
			d.MaxRetries, d.RetryDelay, d.Timeout = 3, time.Millisecond, time.Second
		}, nil},
		{"missing URL", func(d *Delivery) { d.URL = "" }, []string{"URL: required"}},
		{"unparseable URL", func(d *Delivery) { d.URL = "http://bad host/%zz" }, []string{"URL:"}},
		{"relative URL", func(d *Delivery) { d.URL = "/hook" }, []string{"URL: scheme"}},
		{"ftp URL", func(d *Delivery) { d.URL = "ftp://h/x" }, []string{"URL: scheme"}},
		{"no host", func(d *Delivery) { d.URL = "http:///x" }, []string{"URL: missing host"}},
		{"unknown format", func(d *Delivery) { d.Format = "csv" }, []string{`Format: unknown "csv"`}},
		{"unknown method", func(d *Delivery) { d.Method = "DELETE" }, []string{`Method: unsupported "DELETE"`}},
		{"GET with form body", func(d *Delivery) { d.Method = "GET" }, []string{"Method: GET cannot carry"}},
		{"two auth schemes", func(d *Delivery) { d.BasicUser, d.BearerToken = "u", "t" }, []string{"BasicUser, BearerToken"}},
		{"password without user", func(d *Delivery) { d.BasicPassword = "p" }, []string{"BasicPassword"}},
		{"bad header name", func(d *Delivery) { d.Headers = map[string]string{"X Bad": "v"} }, []string{`Headers["X Bad"]: invalid header name`}},
		{"header injection", func(d *Delivery) { d.Headers = map[string]string{"X-A": "v\r\nX-B: w"} }, []string{`Headers["X-A"]: value contains a line break`}},
		{"empty outbound name", func(d *Delivery) { d.FieldMap = map[string]string{"Email": ""} }, []string{`FieldMap["Email"]: empty outbound name`}},
		{"outbound is IDField", func(d *Delivery) { d.FieldMap = map[string]string{"Id": "LeadUID"} }, []string{`is the IDField`}},
		{"duplicate outbound", func(d *Delivery) { d.FieldMap = map[string]string{"A": "x", "B": "x"} }, []string{`FieldMap["B"]: outbound name "x" already used by "A"`}},
		{"XML bad outbound", func(d *Delivery) {
			d.Format = FormatXML
			d.FieldMap = map[string]string{"FirstName": "first name"}
		}, []string{"not a valid XML element name"}},
		{"XML bad IDField", func(d *Delivery) { d.Format, d.IDField = FormatXML, "1id" }, []string{"IDField:"}},
		{"XML no IDField is fine", func(d *Delivery) { d.Format, d.IDField = FormatXML, NoIDField }, nil},
		{"bad regexp", func(d *Delivery) { d.ResponseSearch, d.UseRegex = "(", true }, []string{"ResponseSearch:"}},
		{"literal ( is fine", func(d *Delivery) { d.ResponseSearch = "(" }, nil},
		{"negative numbers", func(d *Delivery) { d.MaxRetries, d.RetryDelay, d.Timeout = -1, -1, -1 },
			[]string{"MaxRetries: negative", "RetryDelay: negative", "Timeout: negative"}},
		{"every problem reported", func(d *Delivery) {
			d.URL, d.Format, d.ResponseSearch, d.UseRegex = "", "yaml", "[", true
		}, []string{"URL: required", "Format: unknown", "ResponseSearch:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := ok
			tt.mod(&d)
			_, err := NewSender(d)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("NewSender: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidDelivery) {
				t.Fatalf("err = %v, want ErrInvalidDelivery", err)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

func TestNewSenderErrorHidesSecrets(t *testing.T) {
	_, err := NewSender(Delivery{URL: "http://h x/?key=SECRETKEY", BasicUser: "u", BearerToken: "SECRETTOKEN"})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, secret := range []string{"SECRETKEY", "SECRETTOKEN"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q leaks %s", err, secret)
		}
	}
}
