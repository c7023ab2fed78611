package conformance

import "testing"

func TestAFlagIsClaimedUnlessGivenUpWithAReason(t *testing.T) {
	var claimed Flag
	if !claimed.Claimed() || claimed.Reason() != "" {
		t.Fatalf("the zero Flag: claimed %v, reason %q", claimed.Claimed(), claimed.Reason())
	}
	off := Without("sinktest", "the API cannot read leads")
	if off.Claimed() || off.Reason() != "the API cannot read leads" {
		t.Fatalf("Without: claimed %v, reason %q", off.Claimed(), off.Reason())
	}
	defer func() {
		if got := recover(); got != "sinktest.Without: a flag that is off needs its reason" {
			t.Fatalf("Without with no reason: panic %v", got)
		}
	}()
	Without("sinktest", "")
}

func TestRequireSkipsWhatIsNotClaimed(t *testing.T) {
	ran := map[string]bool{}
	Run(t, Without("bustest", "no replay"), []Test[Flag]{
		{"Claimed", func(t *testing.T, _ Flag) { Flag{}.Require(t, "Replay"); ran["Claimed"] = true }},
		{"GivenUp", func(t *testing.T, f Flag) { f.Require(t, "Replay"); ran["GivenUp"] = true }},
	})
	if !ran["Claimed"] || ran["GivenUp"] {
		t.Fatalf("ran %v, want only the claimed test to go on", ran)
	}
}
