package config

import (
	"errors"
	"strings"
	"testing"
)

func TestOwnership(t *testing.T) {
	base := `
sharpspring: {account_id: "1", secret_key: "x"}
leadexec: {webhook: {bearer_token: t}}
catalog:
  - {name: budget, sharpspring: budget_5f1a2b3c4d5e6, leadexec: Budget}
routes:
  - {name: a, from: leadexec.lead, to: sharpspring.lead}
`
	c, err := Parse([]byte(base+"ownership: {lead_status: leadexec, email: sharpspring, budget: sharpspring}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Ownership["lead_status"] != "leadexec" || c.Ownership["budget"] != "sharpspring" {
		t.Errorf("ownership = %v", c.Ownership)
	}

	_, err = Parse([]byte(base+"ownership: {status: leadexec, email: salesforce}\n"), env(nil))
	var ce *Errors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Errors", err)
	}
	msg := err.Error()
	for _, w := range []string{`ownership.status: "status" is not a canonical lead field`, `ownership.email: "salesforce" is not a vendor`} {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
	if len(ce.List) != 2 {
		t.Errorf("%d problems, want 2:\n%s", len(ce.List), msg)
	}
}
