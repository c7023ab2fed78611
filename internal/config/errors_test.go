package config

import (
	"errors"
	"strings"
	"testing"
)

// manyProblems has problems in every stage and most sections.
const manyProblems = `
data_dir: ./data
log: {level: loud, format: text}
bus:
  kind: rabbit
  nats: {duplicate_window: forever, ack_wait: [2m]}
sharpspring:
  acount_id: "1"
  secret_key: ${SS_SECRET}
  rate_per_second: ${SS_RATE}
  daily_quota: lots
  timeout: 5 minutes
  poller: {interval: 1m, page_size: 9000}
ivvy:
  region: mars
  api_key: k
  api_secret: ${IVVY_SECRET}
  poller: {since: "${IVVY_SINCE}"}
getlead:
  mode: v4
  token: ${GETLEAD_TOKEN}
  poller: {since: yesterday}
leadexec:
  webhook: {path: hook, max_body_bytes: 12}
catalog:
  - {name: color, sharpspring: Favorite Color}
routes:
  - {name: a, from: leadexec.lead, to: sharpspring.lead, linger: soon}
  - {name: a, from: salesforce.lead, to: ivy.lead, batch_size: [1]}
  - {name: b, from: ivvy.lead, to: ivvy.lead, batch_size: 0}
  - {name: c, from: leadexec.lead, to: ivvy.lead, batches_in_flight: 9}
`

// checkProblems checks that err is an *Errors of exactly as many problems
// as want, each a problem line of its message starting with its want, and
// returns the message.
func checkProblems(t *testing.T, err error, want []string) string {
	t.Helper()
	var ce *Errors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Errors", err)
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, "\n  "+w) {
			t.Errorf("missing %q", w)
		}
	}
	if len(ce.List) != len(want) {
		t.Errorf("%d problems reported, want %d", len(ce.List), len(want))
	}
	return msg
}

// TestAllProblemsAtOnce: one run reports the problems of every stage —
// missing environment variables, unknown keys, values of the wrong type,
// invalid settings — each once, with its path, and never a value read from
// the environment.
func TestAllProblemsAtOnce(t *testing.T) {
	secrets := map[string]string{"SS_RATE": "s3cr3t-rate-value", "GETLEAD_TOKEN": "gl_token-value", "IVVY_SINCE": "hunter2-since"}
	_, err := Parse([]byte(manyProblems), env(secrets))
	want := []string{
		"sharpspring.secret_key: environment variable SS_SECRET is not set",
		"ivvy.api_secret: environment variable IVVY_SECRET is not set",
		`getlead.poller.since: "yesterday" is not a time`,
		"ivvy.poller.since: the value of ${IVVY_SINCE} is not a time",
		`bus.nats.duplicate_window: "forever" is not a duration`,
		"bus.nats.ack_wait: a list is not a duration",
		"sharpspring.acount_id: unknown key",
		"sharpspring.rate_per_second: the value of ${SS_RATE} is not a number",
		`sharpspring.daily_quota: "lots" is not a whole number`,
		`sharpspring.timeout: "5 minutes" is not a duration`,
		`routes[0].linger: "soon" is not a duration`,
		"routes[1].batch_size: a list is not a whole number",
		`log.level: "loud" is not one of`,
		`bus.kind: "rabbit" is not nats or kafka`,
		`routes[1].name: "a" is also the name of routes[0]`,
		`routes[1].from: "salesforce.lead" cannot be read`,
		`routes[1].to: "ivy.lead" cannot be written`,
		"routes[2]: route ivvy.lead → ivvy.lead stays within one vendor",
		"routes[3].batches_in_flight: 9 is outside 1..4",
		"sharpspring.account_id: is required",
		"sharpspring.poller.page_size: 9000 is outside 1..500",
		`ivvy.region: "mars" is not au, us, eu or uk`,
		`getlead.mode: "v4" is not classic or v3`,
		`leadexec.webhook.path: "hook" must start with /`,
		"leadexec.webhook: set basic_user/basic_password or bearer_token",
		"leadexec.webhook.max_body_bytes: 12 is outside",
		`catalog[0].sharpspring: "Favorite Color" is not a SharpSpring system name`,
	}
	msg := checkProblems(t, err, want)
	for _, v := range secrets {
		if strings.Contains(msg, v) || strings.Contains(msg, v[:7]) {
			t.Errorf("a value from the environment is in the errors")
		}
	}
	if t.Failed() {
		t.Log(msg)
	}
}

// TestEnvironmentValuesNeverInProblems: a value read from the environment
// may be a secret put in the wrong key; a problem names its ${VAR} instead.
func TestEnvironmentValuesNeverInProblems(t *testing.T) {
	const secret = "pa55-DO-NOT-PRINT"
	_, err := Parse([]byte(`
bus: {kind: "${A}", nats: {url: "${B}"}}
sharpspring: {account_id: "1", secret_key: k, endpoint: "${C}", daily_quota: "${D}", timeout: "${E}", poller: {since: "${F}"}}
ivvy: {region: "${G}", api_key: k, api_secret: s}
getlead: {mode: "${H}", token: t, base_url: "x-${I}"}
leadexec: {webhook: {bearer_token: t}}
ownership: {email: "${J}"}
catalog: [{name: color, sharpspring: "${K}"}]
routes: [{name: "${L}", from: "${M}", to: sharpspring.lead}, {name: "${L}", from: leadexec.lead, to: ivvy.lead}]
`), func(name string) (string, bool) { return secret + "-" + name, true })
	var ce *Errors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Errors", err)
	}
	msg := err.Error()
	if strings.Contains(msg, secret[:4]) {
		t.Fatalf("a value from the environment is in the errors:\n%s", msg)
	}
	for _, w := range []string{"bus.kind: ${A} is not", "bus.nats.url: ${B} is not", "sharpspring.endpoint: ${C}",
		"sharpspring.daily_quota: the value of ${D}", "sharpspring.timeout: the value of ${E}", "sharpspring.poller.since: the value of ${F}",
		"ivvy.region: ${G}", "getlead.mode: ${H}", "getlead.base_url: x-${I}", "ownership.email: ${J}", "catalog[0].sharpspring: ${K}",
		"routes[1].name: ${L} is also", "routes[0].from: ${M} cannot"} {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
}
