package config

import (
	"strings"
	"testing"
	"time"
)

func TestLeadExecDefaults(t *testing.T) {
	c, err := Parse([]byte(`
sharpspring: {account_id: "1", secret_key: k}
leadexec:
  key: "${LE_KEY}"
  client_id: 0f8fad5b-d9cb-469f-a165-70867728950e
  client_secret: "${LE_SECRET}"
  webhook: {bearer_token: t}
  receiver: {vid: 101, lid: 201, api_key: "${LE_POST}"}
  safety_net: {lead_types: [201]}
routes:
  - {from: leadexec.lead, to: sharpspring.lead}
  - {from: sharpspring.lead, to: leadexec.lead}
  - {from: sharpspring.client, to: leadexec.client}
  - {from: leadexec.client, to: sharpspring.client}
`), env(map[string]string{"LE_KEY": "asmx-key", "LE_SECRET": "oauth-secret", "LE_POST": "post-key"}))
	if err != nil {
		t.Fatal(err)
	}
	l := c.LeadExec
	if l.APIURL != "https://api.leadexec.net" || l.LeadsURL != "https://leads.leadexec.net" || l.DataURL != "https://apidata.leadexec.net" ||
		l.Timeout.Std() != time.Minute || l.Receiver.Version != "v2" || l.Receiver.MaxLeadsPerPost != 100 ||
		l.SafetyNet.Interval.Std() != 15*time.Minute || l.SafetyNet.Lookback.Std() != 24*time.Hour ||
		l.SafetyNet.MinAge.Std() != 10*time.Minute || l.SafetyNet.PageSize != 500 ||
		l.ClientPoller.Interval.Std() != 5*time.Minute || c.SharpSpring.ClientPoller.Interval.Std() != 5*time.Minute ||
		l.FieldCheckInterval.Std() != time.Hour || l.ASMXNamespace != "http://tempuri.org/" {
		t.Fatalf("defaults not applied: %+v", *l)
	}
	if l.Key.Value() != "asmx-key" || l.ClientSecret.Value() != "oauth-secret" || l.Receiver.APIKey.Value() != "post-key" {
		t.Fatal("secrets not read")
	}
	if s := strings.Join([]string{l.Key.String(), l.ClientSecret.String(), l.Receiver.APIKey.String()}, " "); strings.Contains(s, "key") || strings.Contains(s, "secret") {
		t.Fatalf("a secret prints: %s", s)
	}
}

// TestLeadExecProblems: every LeadExec problem is reported with its path,
// and only for the parts a route uses.
func TestLeadExecProblems(t *testing.T) {
	_, err := Parse([]byte(`
sharpspring: {account_id: "1", secret_key: k}
leadexec:
  api_url: "ftp://api.leadexec.net"
  data_url: "https://user:pw@apidata.leadexec.net"
  webhook: {bearer_token: t}
  receiver: {version: v3, aid: -1, max_leads_per_post: 900}
  safety_net: {lead_types: [201, 0], lookback: 5m, min_age: 10m, page_size: 0}
  client_poller: {interval: 10ms}
routes:
  - {from: leadexec.lead, to: sharpspring.lead}
  - {from: sharpspring.lead, to: leadexec.lead}
  - {from: sharpspring.client, to: leadexec.client}
  - {from: leadexec.client, to: sharpspring.client}
  - {name: mixed, from: leadexec.client, to: sharpspring.lead}
`), env(nil))
	want := []string{
		"routes[4]: route leadexec.client → sharpspring.lead connects a client to a lead",
		`leadexec.api_url: "ftp://api.leadexec.net" is not`,
		"leadexec.data_url: must not carry credentials",
		"leadexec.key: is required to read and write LeadExec clients (GetClientList, GetClientData, AddEditClient) and to check the lead types' fields (GetLeadFields)",
		"leadexec.client_poller.interval: 10ms is under 1s",
		`leadexec.receiver.version: "v3" is not v2 or v1`,
		"leadexec.receiver.vid: is required",
		"leadexec.receiver.lid: is required",
		"leadexec.receiver.aid: -1 is negative",
		"leadexec.receiver.max_leads_per_post: 900 is outside 1..500",
		"leadexec.safety_net.lead_types[1]: 0 is not a lead type id",
		"leadexec.safety_net.lookback: 5m0s must be longer than min_age",
		"leadexec.client_id: is required for the safety net",
		"leadexec.client_secret: is required for the safety net",
	}
	msg := checkProblems(t, err, want)
	if strings.Contains(msg, "pw@") {
		t.Error("the URL's password is in the problems")
	}
	if t.Failed() {
		t.Log(msg)
	}

	// Writing leads only: no webhook, no OAuth credentials needed; the key
	// reads the lead type's fields.
	if _, err := Parse([]byte(`
sharpspring: {account_id: "1", secret_key: k}
leadexec: {receiver: {version: v1, vid: 101, lid: 201}}
routes: [{from: sharpspring.lead, to: leadexec.lead}]
`), env(nil)); err == nil || !strings.Contains(err.Error(), "leadexec.key: is required to check the lead types' fields (GetLeadFields)") {
		t.Fatalf("a lead sink without the key: %v", err)
	}
	if _, err := Parse([]byte(`
sharpspring: {account_id: "1", secret_key: k}
leadexec: {key: k, receiver: {version: v1, vid: 101, lid: 201}}
routes: [{from: sharpspring.lead, to: leadexec.lead}]
`), env(nil)); err != nil {
		t.Fatalf("a lead sink alone: %v", err)
	}
}
