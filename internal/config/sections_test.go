package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// plugSection is the section of a vendor registered by the tests below.
type plugSection struct {
	Endpoint string   `yaml:"endpoint"`
	Key      Secret   `yaml:"key"`
	Interval Duration `yaml:"interval"`
	Nested   struct {
		Token Secret `yaml:"token"`
		Limit int    `yaml:"limit"`
	} `yaml:"nested"`
}

func (s *plugSection) ApplyDefaults() { setDefault(&s.Interval, Duration(time.Minute)) }

func (s *plugSection) Validate(add func(path, format string, args ...any)) {
	if !absoluteURL(s.Endpoint) {
		add("endpoint", "%q is not an absolute URL", s.Endpoint)
	}
	if s.Key == "" {
		add("key", "is required")
	}
	if s.Nested.Limit < 0 {
		add("nested.limit", "%d is negative", s.Nested.Limit)
	}
}

func init() {
	RegisterVendor(Vendor{Name: "plug", Title: "Plug CRM", Reads: []string{"lead"}, Writes: []string{"lead"},
		ReadBack: []string{"lead"}, NewSection: func() Section { return &plugSection{} }})
}

const plugBase = `
leadexec:
  webhook: {basic_user: u, basic_password: p}
  receiver: {vid: 1, lid: 2, api_key: posting}
  key: asmx-key
`

func TestARegisteredVendorsSectionIsDecodedDefaultedAndRoutable(t *testing.T) {
	c, err := Parse([]byte(plugBase+`
plug:
  endpoint: https://plug.example/api
  key: ${PLUG_KEY}
  nested: {token: t0k, limit: 3}
ownership: {first_name: plug}
routes:
  - {from: leadexec.lead, to: plug.lead, reconcile: {interval: 1h}}
  - {from: plug.lead, to: leadexec.lead}
`), func(k string) (string, bool) { return "k3y", k == "PLUG_KEY" })
	if err != nil {
		t.Fatal(err)
	}
	s, ok := c.Section("plug").(*plugSection)
	if !ok {
		t.Fatalf("section: %#v", c.Section("plug"))
	}
	if s.Endpoint != "https://plug.example/api" || s.Key.Value() != "k3y" || s.Nested.Limit != 3 || s.Interval.Std() != time.Minute {
		t.Errorf("section decoded as %+v", s)
	}
	got := SecretsOf(s)
	if len(got) != 2 || got[0].Path != "key" || got[0].Value != "k3y" || got[1].Path != "nested.token" || got[1].Value != "t0k" {
		t.Errorf("secrets: %+v", got)
	}
	// Rendered again, the section is there with its secrets hidden.
	b, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "plug:") || strings.Contains(string(b), "k3y") || strings.Contains(string(b), "t0k") {
		t.Fatalf("rendered:\n%s", b)
	}
}

func TestARegisteredVendorsProblemsCarryTheirPaths(t *testing.T) {
	_, err := Parse([]byte(plugBase+`
plug:
  endpoint: not-a-url
  bogus: 1
  interval: soon
  nested: {limit: -1}
routes:
  - {from: leadexec.lead, to: plug.lead}
  - {from: plug.lead, to: plug.client}
`), func(string) (string, bool) { return "", false })
	var ce *Errors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"plug.bogus", "plug.interval", `plug.endpoint: "not-a-url" is not an absolute URL`,
		"plug.key: is required", "plug.nested.limit: -1 is negative", `routes[1].to: "plug.client" cannot be written`} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

func TestARouteToARegisteredVendorNeedsItsSection(t *testing.T) {
	_, err := Parse([]byte(plugBase+`
routes:
  - {from: plug.lead, to: leadexec.lead}
`), func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "plug: a route uses Plug CRM but the plug section is missing") {
		t.Fatalf("err = %v", err)
	}
}

func TestRegisteringAVendorTwiceOrUnderAKeyOfTheFilePanics(t *testing.T) {
	for _, name := range []string{"plug", "sharpspring", "routes", "data_dir"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("registering %q did not panic", name)
				}
			}()
			RegisterVendor(Vendor{Name: name, NewSection: func() Section { return &plugSection{} }})
		}()
	}
}
