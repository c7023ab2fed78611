package getlead

import (
	"fmt"
	"testing"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sinktest"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		mode     string
		features sinktest.Features
		create   string // the endpoint that creates a lead
	}{
		{ModeClassic, sinktest.Features{
			TargetIDs: sinktest.Without("the classic API answers without the lead's id: classic leads are keyed by country code and mobile number"),
			RefusedLeavesNothing: sinktest.Without("the classic API takes a lead's status in a second request (gl-status-change-api), " +
				"after gl-website-contacts stored the lead: a status Getlead refuses leaves the lead there without it"),
		}, "gl-website-contacts"},
		{ModeV3, sinktest.Features{}, "leads.create"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			sinktest.Run(t, sinktest.Factory{
				Features: tc.features,
				NewEnv: func(t *testing.T) *sinktest.Env {
					sim, srv := newSim(t, getleadsim.Options{})
					return &sinktest.Env{
						Sink: newSink(t, tc.mode, srv, openState(t)),
						Record: func(i int) *pipeline.Record {
							return record(fmt.Sprintf("k%d", i), mappings.Lead{mappings.FirstName: fmt.Sprintf("Asha%d", i), mappings.LastName: "Rao",
								mappings.MobilePhone: fmt.Sprintf("98765%05d", i), mappings.Email: fmt.Sprintf("asha%d@example.com", i)}, nil)
						},
						// Getlead refuses a status it does not have.
						Bad: func(i int) *pipeline.Record {
							return record(fmt.Sprintf("bad%d", i), mappings.Lead{mappings.FirstName: "Bad",
								mappings.MobilePhone: fmt.Sprintf("91234%05d", i), mappings.LeadStatus: "Bogus"}, nil)
						},
						Held:       func(*testing.T) int { return len(sim.Leads()) },
						Outage:     sinktest.FaultsOutage(sim.SetFaults, getleadsim.Faults{ServerErrorRate: 1}),
						LoseAnswer: func(*testing.T) { sim.Script(tc.create, getleadsim.FaultDropAfterCommit) },
					}
				},
			})
		})
	}
}
