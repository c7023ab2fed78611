package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A status_map into SharpSpring leads may only name statuses SharpSpring's
// leadStatus takes: any other stops start-up, naming the route, the status
// and the allowed values.
func TestSharpSpringStatusMapTargetsAreChecked(t *testing.T) {
	_, err := Parse([]byte(`
sharpspring: {account_id: "1", secret_key: "x"}
ivvy: {api_key: k, api_secret: s, region: us}
leadexec: {webhook: {bearer_token: t}}
routes:
  - {name: from-ivvy, from: ivvy.lead, to: sharpspring.lead, status_map: {Hot: qualified, Won: customer, Lost: ""}}
  - {name: from-leadexec, from: leadexec.lead, to: sharpspring.lead, status_map: {sold: contactWithOpp}}
  - {name: to-ivvy, from: sharpspring.lead, to: ivvy.lead, status_map: {qualified: Hot}}
`), env(nil))
	var ce *Errors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Errors", err)
	}
	msg := err.Error()
	allowed := "allowed: unqualified, open, qualified, contact"
	for _, w := range []string{
		`routes[0].status_map.Won: route "from-ivvy" maps status "Won" to "customer", which SharpSpring's leadStatus does not take; ` + allowed,
		`routes[0].status_map.Lost: route "from-ivvy" maps status "Lost" to ""`,
		`routes[1].status_map.sold: route "from-leadexec" maps status "sold" to "contactWithOpp"`,
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
	if len(ce.List) != 3 {
		t.Errorf("%d problems reported, want 3:\n%s", len(ce.List), msg)
	}
}

// The v1 endpoint works in the account's local time: without its zone the
// config is refused; with it, or on v1.2, it is accepted.
func TestSharpSpringV1NeedsTheAccountTimeZone(t *testing.T) {
	parse := func(section string) (*Config, error) {
		return Parse([]byte(`
sharpspring: {account_id: "1", secret_key: "x"`+section+`}
leadexec: {webhook: {bearer_token: t}}
routes: [{from: leadexec.lead, to: sharpspring.lead}]
`), env(nil))
	}
	_, err := parse(`, endpoint: "https://api.sharpspring.com/pubapi/v1/"`)
	if err == nil || !strings.Contains(err.Error(), "sharpspring.time_zone: is required with the v1 endpoint") ||
		!strings.Contains(err.Error(), "Company Profile") || !strings.Contains(err.Error(), "/pubapi/v1.2/") {
		t.Fatalf("v1 without time_zone: %v", err)
	}
	if _, err := parse(`, endpoint: "https://api.sharpspring.com/pubapi/v1", time_zone: Mars/Olympus`); err == nil ||
		!strings.Contains(err.Error(), `sharpspring.time_zone: "Mars/Olympus" is not a known time zone`) {
		t.Fatalf("unknown zone: %v", err)
	}
	c, err := parse(`, endpoint: "https://api.sharpspring.com/pubapi/v1/", time_zone: America/New_York`)
	if err != nil {
		t.Fatal(err)
	}
	if z := c.SharpSpring.Zone(); z.String() != "America/New_York" {
		t.Errorf("v1 zone %v", z)
	}
	c, err = parse(``)
	if err != nil {
		t.Fatal(err)
	}
	if z := c.SharpSpring.Zone(); z != time.UTC {
		t.Errorf("v1.2 zone %v, want UTC", z)
	}
	c, err = parse(`, time_zone: America/New_York`)
	if err != nil || c.SharpSpring.Zone() != time.UTC {
		t.Errorf("v1.2 works in UTC whatever time_zone says: %v", err)
	}
}
