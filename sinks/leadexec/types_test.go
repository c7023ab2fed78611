package leadexec

import (
	"context"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// TestLeadSinkWritesTypedFieldsAsTheLeadTypeTakesThem: the lead type has a
// whole-number budget, a date-time of first contact and an opt-in bit, as
// GetLeadFields reports them; the receiver refuses values of another type.
// Values in crmsync's forms reach LeadExec in LeadExec's (the date-time in
// Pacific Time); a lead whose budget is no number is dead-lettered alone.
func TestLeadSinkWritesTypedFieldsAsTheLeadTypeTakesThem(t *testing.T) {
	lt := leadexecsim.DefaultLeadTypes()[0]
	lt.Fields = append(lt.Fields, leadexecsim.LeadField{Name: "Budget", DataType: "Int"},
		leadexecsim.LeadField{Name: "FirstContact", DataType: "DateTime"}, leadexecsim.LeadField{Name: "OptIn", DataType: "Bit"})
	e := newSimEnv(t, leadexecsim.Options{LeadTypes: []leadexecsim.LeadType{lt}})
	ctx := context.Background()
	fields, err := e.c.GetLeadFields(ctx, leadexecsim.DefaultLID)
	if err != nil {
		t.Fatal(err)
	}
	types := &leadexec.LeadTypeFields{}
	types.Set(fields)
	s := e.leadSink(t, leadexec.ReceiverV2, nil, func(c *LeadSinkConfig) { c.Fields = types })
	good := leadRec(person(1, "Budget", "1250.0", "FirstContact", "2026-03-10T22:00:00Z", "OptIn", "yes"))
	bad := leadRec(person(2, "Budget", "lots"))
	out := s.Write(ctx, []*pipeline.Record{good, bad})
	if out[0].Err != nil || out[0].TargetID == "" {
		t.Fatalf("the typed lead: %+v", out[0])
	}
	if code(out[1]) != pipeline.CodeFieldType || !strings.Contains(out[1].Err.Error(), `Budget: value "lots" is not a valid integer`) {
		t.Fatalf("the lead with no number for its budget: %+v", out[1])
	}
	leads := e.sim.Leads()
	if len(leads) != 1 {
		t.Fatalf("LeadExec holds %d leads, want 1", len(leads))
	}
	got := leads[0].Fields
	if got["Budget"] != "1250" || got["FirstContact"] != "3/10/2026 3:00:00 PM" || got["OptIn"] != "1" {
		t.Fatalf("typed values as LeadExec holds them: Budget %q, FirstContact %q, OptIn %q", got["Budget"], got["FirstContact"], got["OptIn"])
	}
}
