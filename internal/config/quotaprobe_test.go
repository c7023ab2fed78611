package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

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
