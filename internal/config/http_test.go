package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const httpBase = `
sharpspring: {account_id: "1", secret_key: k}
leadexec: {webhook: {bearer_token: t}}
routes: [{from: leadexec.lead, to: sharpspring.lead}]
`

// TestHTTPDefaults: the listener's limits and timeouts have their documented
// defaults, everything on http.listen, no admin token.
func TestHTTPDefaults(t *testing.T) {
	c, err := Parse([]byte(httpBase), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	h := c.HTTP
	if h.MaxHeaderBytes != 64<<10 || h.ReadHeaderTimeout.Std() != 10*time.Second || h.ReadTimeout.Std() != time.Minute ||
		h.WriteTimeout.Std() != 90*time.Second || h.IdleTimeout.Std() != time.Minute || h.AdminListen != "" || h.AdminToken != "" {
		t.Fatalf("http defaults: %+v", h)
	}
	if h.AdminAddr() != "127.0.0.1:8080" {
		t.Fatalf("admin address without admin_listen = %q, want http.listen", h.AdminAddr())
	}
}

// TestHTTPSettings: set values are kept, the admin token comes from the
// environment and never prints, and the admin address is admin_listen.
func TestHTTPSettings(t *testing.T) {
	c, err := Parse([]byte(httpBase+`
http:
  listen: 0.0.0.0:8080
  admin_listen: 127.0.0.1:9090
  admin_token: ${ADMIN_TOKEN}
  max_header_bytes: 16384
  read_header_timeout: 2s
  read_timeout: 20s
  write_timeout: 30s
  idle_timeout: 5s
`), env(map[string]string{"ADMIN_TOKEN": "tok-DO-NOT-PRINT"}))
	if err != nil {
		t.Fatal(err)
	}
	h := c.HTTP
	if h.AdminAddr() != "127.0.0.1:9090" || h.AdminToken.Value() != "tok-DO-NOT-PRINT" || h.MaxHeaderBytes != 16384 ||
		h.ReadHeaderTimeout.Std() != 2*time.Second || h.WriteTimeout.Std() != 30*time.Second || h.IdleTimeout.Std() != 5*time.Second {
		t.Fatalf("http settings: %+v", h)
	}
	if s := h.AdminToken.String(); strings.Contains(s, "tok") {
		t.Fatalf("the admin token prints as %q", s)
	}
}

// TestHTTPProblems: each wrong listener setting is reported with its path.
func TestHTTPProblems(t *testing.T) {
	_, err := Parse([]byte(httpBase+`
http:
  listen: "8080"
  admin_listen: "localhost"
  max_header_bytes: 100
  read_timeout: 2m
  write_timeout: 1m
  idle_timeout: -1s
`), env(nil))
	var ce *Errors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Errors", err)
	}
	for _, w := range []string{
		`http.listen: "8080" is not host:port`,
		`http.admin_listen: "localhost" is not host:port`,
		"http.max_header_bytes: 100 is outside 4096..1048576",
		"http.write_timeout: 1m0s is under http.read_timeout (2m0s)",
		"http.idle_timeout: -1s is negative",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%s", w, err)
		}
	}
	if len(ce.List) != 5 {
		t.Errorf("%d problems, want 5:\n%s", len(ce.List), err)
	}
	_, err = Parse([]byte(httpBase+"http: {listen: 127.0.0.1:8080, admin_listen: 127.0.0.1:8080}\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "http.admin_listen: \"127.0.0.1:8080\" is also http.listen") {
		t.Errorf("the same address for both listeners: %v", err)
	}
}

// TestAccountLabelsHoldNoSecret: the labels that key each account's rate
// window and daily count are stable, tell accounts apart, and hold no
// credential.
func TestAccountLabelsHoldNoSecret(t *testing.T) {
	iv := &IVvyConfig{APIKey: "ivvy-key-DO-NOT-SHOW"}
	if a, b := iv.Account(), (&IVvyConfig{APIKey: "ivvy-key-DO-NOT-SHOW"}).Account(); a != b || !strings.HasPrefix(a, "ivvy:") || len(a) != len("ivvy:")+12 {
		t.Fatalf("ivvy labels %q, %q: want one stable ivvy:<12 hex>", a, b)
	}
	if iv.Account() == (&IVvyConfig{APIKey: "another-key"}).Account() {
		t.Fatal("two iVvy keys share a label")
	}
	if strings.Contains(iv.Account(), "DO-NOT") {
		t.Fatalf("ivvy label %q holds the key", iv.Account())
	}
	for in, want := range map[string]string{
		"https://app.getleadcrm.com":                                     "getlead:https://app.getleadcrm.com",
		"https://user:pw-DO-NOT@app.getlead.co.uk/x?token=DO-NOT#DO-NOT": "getlead:https://app.getlead.co.uk/x",
	} {
		if got := (&GetleadConfig{BaseURL: in}).Account(); got != want {
			t.Errorf("getlead label of %q = %q, want %q", in, got, want)
		}
	}
	if got := (&SharpSpringConfig{AccountID: "1001"}).Account(); got != "sharpspring:1001" {
		t.Errorf("sharpspring label = %q", got)
	}
}
