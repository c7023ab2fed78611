package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// Leads delivered by LeadExec reach SharpSpring's typed fields converted
// (a date-time cut to its date, a picklist chosen by its label), through
// the whole pipeline; a lead whose value cannot be converted is
// dead-lettered alone, naming the field and the value.
func TestTypedSharpSpringFieldsGetConvertedValues(t *testing.T) {
	h := newHarness(t, harnessOptions{linger: 300 * time.Millisecond, typed: []typedField{
		{"visit", "Visit Date", "date", nil},
		{"tier", "Tier", "picklist", []sharpspringsim.FieldOption{{Label: "Gold Tier", Value: "gold"}, {Label: "Silver Tier", Value: "silver"}}},
	}})
	for i := 0; i < 3; i++ {
		f := leadFields(i)
		f["VisitDate"], f["Tier"] = "2026-03-10 22:30", "gold tier"
		if i == 1 {
			f["VisitDate"] = "next tuesday"
		}
		h.publish(int64(i), time.Now(), f)
	}
	h.start()
	h.settle(3)
	for _, i := range []string{"0", "2"} {
		l := h.lead("lead" + i + "@example.com")
		if l[h.sys["visit"]] != "2026-03-10" || l[h.sys["tier"]] != "gold" {
			t.Errorf("lead %s: visit %q, tier %q; want 2026-03-10 and gold", i, l[h.sys["visit"]], l[h.sys["tier"]])
		}
	}
	if n := len(h.sim.Leads()); n != 2 {
		t.Fatalf("SharpSpring holds %d leads, want the 2 good ones", n)
	}
	dls, err := h.app.State.DeadLetters(context.Background(), pipeline.DeadLetterFilter{})
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters = %d, %v", len(dls), err)
	}
	d := dls[0]
	if d.Code != "field-type" || !strings.Contains(d.Message, h.sys["visit"]) || !strings.Contains(d.Message, `"next tuesday"`) ||
		!strings.Contains(string(d.Payload), "Lead1@Example.com") {
		t.Fatalf("dead letter = %+v", d)
	}
	if st := h.sim.Stats(); st.ErrorsByCode[205] != 0 {
		t.Errorf("SharpSpring refused %d values", st.ErrorsByCode[205])
	}
}
