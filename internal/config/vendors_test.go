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

// SharpSpring documents at most 500 objects per request: a poller page
// size above it is refused, since a limit capped in silence would lose
// leads. Before, up to 5000 was accepted (and suggested).
func TestSharpSpringPageSizeIsAtMost500(t *testing.T) {
	const base = `
leadexec: {webhook: {bearer_token: t}}
routes: [{from: leadexec.lead, to: sharpspring.lead}]
sharpspring: {account_id: "1", secret_key: k, poller: {page_size: %s}}
`
	for _, tc := range []struct {
		size string
		ok   bool
	}{{"1", true}, {"200", true}, {"500", true}, {"501", false}, {"5000", false}, {"0", true}} {
		t.Run(tc.size, func(t *testing.T) {
			c, err := Parse([]byte(strings.Replace(base, "%s", tc.size, 1)), env(nil))
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if tc.size == "0" && c.SharpSpring.Poller.PageSize != 500 {
					t.Fatalf("default page_size %d, want 500", c.SharpSpring.Poller.PageSize)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "sharpspring.poller.page_size: "+tc.size+" is outside 1..500") {
				t.Fatalf("page_size %s: err = %v", tc.size, err)
			}
		})
	}
}

func TestQuotaProbeInterval(t *testing.T) {
	const base = `
leadexec: {webhook: {bearer_token: t}}
routes: [{from: leadexec.lead, to: sharpspring.lead}]
sharpspring: {account_id: "1", secret_key: k`
	c, err := Parse([]byte(base+"}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SharpSpring.QuotaProbeInterval.Std(); got != time.Hour {
		t.Fatalf("default quota_probe_interval = %s, want 1h", got)
	}
	c, err = Parse([]byte(base+", quota_probe_interval: 15m}\n"), env(nil))
	if err != nil || c.SharpSpring.QuotaProbeInterval.Std() != 15*time.Minute {
		t.Fatalf("quota_probe_interval: 15m parsed as %v, %v", c, err)
	}
	// A bad value is reported with every other problem, with its path.
	_, err = Parse([]byte(base+", quota_probe_interval: -5m, daily_quota: -1}\n"), env(nil))
	var ce *Errors
	if !errors.As(err, &ce) || len(ce.List) != 2 ||
		!strings.Contains(err.Error(), "sharpspring.quota_probe_interval: -5m0s must be positive") ||
		!strings.Contains(err.Error(), "sharpspring.daily_quota: -1 must be positive") {
		t.Fatalf("err = %v", err)
	}
	_, err = Parse([]byte(base+", quota_probe_interval: soon}\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "sharpspring.quota_probe_interval") {
		t.Fatalf("err = %v", err)
	}
}

func TestGetleadRateLimitWait(t *testing.T) {
	const base = `
leadexec: {webhook: {bearer_token: t}}
routes: [{from: leadexec.lead, to: getlead.lead}]
getlead: {token: gl_x`
	c, err := Parse([]byte(base+"}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Getlead.RateLimitWait.Std(); got != time.Minute {
		t.Fatalf("default rate_limit_wait = %s, want 1m", got)
	}
	c, err = Parse([]byte(base+", rate_limit_wait: 10s}\n"), env(nil))
	if err != nil || c.Getlead.RateLimitWait.Std() != 10*time.Second {
		t.Fatalf("rate_limit_wait: 10s parsed as %v, %v", c, err)
	}
	_, err = Parse([]byte(base+", rate_limit_wait: -1s}\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "getlead.rate_limit_wait: -1s must be positive") {
		t.Fatalf("err = %v", err)
	}
}
