package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestExampleConfigIsValid(t *testing.T) {
	b, err := os.ReadFile("../../crmsync.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b, env(map[string]string{
		"SHARPSPRING_ACCOUNT_ID": "1001", "SHARPSPRING_SECRET_KEY": "s3cr3t-key", "LEADEXEC_WEBHOOK_PASSWORD": "pw",
		"IVVY_API_KEY": "k", "IVVY_API_SECRET": "s", "GETLEAD_TOKEN": "gl_t", "GETLEAD_API_KEY": "ik_k",
		"LEADEXEC_KEY": "asmx", "LEADEXEC_CLIENT_ID": "id", "LEADEXEC_CLIENT_SECRET": "s3cr3t-oauth", "LEADEXEC_POSTING_API_KEY": "post",
	}))
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if c.SharpSpring.SecretKey.Value() != "s3cr3t-key" || c.Routes[0].BatchSize != 500 || c.Routes[0].Linger.Std().String() != "500ms" {
		t.Fatalf("parsed %+v", c)
	}
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", *c.SharpSpring), fmt.Sprintf("%#v", *c.SharpSpring),
		fmt.Sprintf("%+v", *c.LeadExec), fmt.Sprintf("%#v", *c.LeadExec)} {
		if strings.Contains(s, "s3cr3t-key") || strings.Contains(s, "s3cr3t-oauth") {
			t.Fatalf("secret printed: %s", s)
		}
	}
	out, _ := yaml.Marshal(c)
	if strings.Contains(string(out), "s3cr3t-key") || strings.Contains(string(out), "s3cr3t-oauth") {
		t.Fatal("secret in marshalled config")
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(`
sharpspring: {account_id: "1", secret_key: k}
leadexec: {webhook: {bearer_token: t}}
routes: [{from: leadexec.lead, to: sharpspring.lead}]
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SharpSpring.RatePerSecond != 9 || c.SharpSpring.DailyQuota != 50000 || c.HTTP.Listen != "127.0.0.1:8080" ||
		c.LeadExec.Webhook.Path != "/webhooks/leadexec" || c.Routes[0].Name != "leadexec-lead-to-sharpspring-lead" ||
		c.Bus.NATS.URL != "" || c.DataDir != "./crmsync-data" {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestEveryProblemIsReportedWithItsPath(t *testing.T) {
	_, err := Parse([]byte(`
log: {level: loud}
sharpspring: {account_id: "", secret_key: "${MISSING_SECRET}", rate_per_second: 50}
routes:
  - {name: a, from: leadexec.lead, to: sharpspring.lead, batch_size: 900}
  - {name: a, from: leadexec.lead, to: ivy.lead}
`), env(nil))
	var ce *Errors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Errors", err)
	}
	// The missing variable is reported with every other problem, and not
	// again as a missing value.
	if len(ce.List) != 8 || !strings.Contains(ce.List[0].Error(), "sharpspring.secret_key: environment variable MISSING_SECRET is not set") ||
		strings.Contains(err.Error(), "sharpspring.secret_key: is required") {
		t.Fatalf("errors = %v", ce.List)
	}

	_, err = Parse([]byte(`
log: {level: loud}
sharpspring: {account_id: "", secret_key: "x", rate_per_second: 50}
leadexec: {webhook: {path: hook}}
routes:
  - {name: a, from: leadexec.lead, to: sharpspring.lead, batch_size: 900}
  - {name: a, from: leadexec.lead, to: ivy.lead}
catalog:
  - {name: color, sharpspring: Favorite Color}
`), env(nil))
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"log.level:", "routes[1].name:", `routes[1].to: "ivy.lead" cannot be written`,
		"routes[0].batch_size:", "sharpspring.account_id: is required", "sharpspring.rate_per_second:",
		"leadexec.webhook.path:", "leadexec.webhook: set basic_user", "catalog[0].sharpspring:",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
	if len(ce.List) != len(want) {
		t.Errorf("%d problems reported, want %d:\n%s", len(ce.List), len(want), msg)
	}
}

func TestUnknownKeysAreRefused(t *testing.T) {
	_, err := Parse([]byte("sharpspring: {acount_id: x}\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "acount_id") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecretWithYAMLSpecialCharacters(t *testing.T) {
	c, err := Parse([]byte(`
sharpspring: {account_id: "1", secret_key: "${K}"}
leadexec: {webhook: {bearer_token: t}}
routes: [{from: leadexec.lead, to: sharpspring.lead}]
`), env(map[string]string{"K": "a: b # c\n- d"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SharpSpring.SecretKey.Value() != "a: b # c\n- d" {
		t.Fatalf("secret = %q", c.SharpSpring.SecretKey.Value())
	}
}

func TestDockerComposeIsValid(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var dc struct {
		Services map[string]struct {
			Image     string         `yaml:"image"`
			Build     any            `yaml:"build"`
			Command   []string       `yaml:"command"`
			DependsOn map[string]any `yaml:"depends_on"`
			Volumes   []string       `yaml:"volumes"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(b, &dc); err != nil {
		t.Fatal(err)
	}
	nats, ok := dc.Services["nats"]
	if !ok || !strings.HasPrefix(nats.Image, "nats:") || !strings.Contains(strings.Join(nats.Command, " "), "-js") {
		t.Fatalf("nats service must run JetStream: %+v", nats)
	}
	cs, ok := dc.Services["crmsync"]
	if !ok || cs.Build == nil || cs.DependsOn["nats"] == nil {
		t.Fatalf("crmsync service must build here and depend on nats: %+v", cs)
	}
	for _, svc := range dc.Services {
		for _, v := range svc.Volumes {
			name, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "/") {
				if _, ok := dc.Volumes[name]; !ok {
					t.Errorf("volume %q is not declared", name)
				}
			}
		}
	}
	if k, ok := dc.Services["kafka"]; !ok || !strings.HasPrefix(k.Image, "apache/kafka:") {
		t.Errorf("the kafka profile needs a kafka service: %+v", k)
	}
	if ck, ok := dc.Services["crmsync-kafka"]; !ok || ck.DependsOn["kafka"] == nil {
		t.Errorf("crmsync-kafka must depend on kafka: %+v", ck)
	}
	if _, err := os.Stat("../../Dockerfile"); err != nil {
		t.Fatalf("compose builds from a Dockerfile: %v", err)
	}
}

func TestReconcileIsValidated(t *testing.T) {
	_, err := Parse([]byte(`
sharpspring: {account_id: "1", secret_key: "x"}
ivvy: {api_key: k, api_secret: s, region: us}
leadexec: {webhook: {bearer_token: t}}
kafka: {}
bus: {kind: kafka, kafka: {brokers: ["localhost:9092"]}}
routes:
  - {name: fast, from: ivvy.lead, to: sharpspring.lead, reconcile: {interval: 500ms}}
  - {name: late, from: sharpspring.lead, to: ivvy.lead, reconcile: {interval: 1h, grace: 2h}}
  - {name: wh, from: sharpspring.lead, to: kafka.lead, reconcile: {interval: 1h}}
  - {name: ok, from: leadexec.lead, to: sharpspring.lead, reconcile: {interval: 1h}}
`), env(nil))
	var ce *Errors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Errors", err)
	}
	msg := err.Error()
	for _, w := range []string{
		"routes[0].reconcile.interval: 500ms is below 1s",
		"routes[1].reconcile.grace: 2h0m0s is outside 0..1h0m0s",
		"routes[2].reconcile: kafka.lead cannot be read back",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
	if len(ce.List) != 3 {
		t.Errorf("%d problems reported, want 3:\n%s", len(ce.List), msg)
	}
	c, err := Parse([]byte(`
sharpspring: {account_id: "1", secret_key: "x"}
ivvy: {api_key: k, api_secret: s, region: us}
routes: [{from: ivvy.lead, to: sharpspring.lead, reconcile: {interval: 24h}}]
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Routes[0].Reconcile.Grace.Std(); g != 5*time.Minute {
		t.Errorf("default grace = %s, want 5m", g)
	}
}
