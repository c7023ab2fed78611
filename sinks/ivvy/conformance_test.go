package ivvy

import (
	"fmt"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sinktest"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Factory{
		NewEnv: func(t *testing.T) *sinktest.Env {
			s, sim, _ := newSink(t, ivvysim.Options{}, nil)
			return &sinktest.Env{
				Sink: s,
				Record: func(i int) *pipeline.Record {
					return rec(fmt.Sprintf("c%d", i), fmt.Sprintf("p%d@example.com", i), map[string]string{
						"contact.firstName": fmt.Sprintf("Pat%d", i), "contact.phone": fmt.Sprintf("555-01%02d", i),
						"description": fmt.Sprintf("lead %d", i)})
				},
				// iVvy refuses a contact whose email is not an address.
				Bad: func(i int) *pipeline.Record {
					return rec(fmt.Sprintf("bad%d", i), "not-an-address", nil)
				},
				Held:       func(*testing.T) int { return len(sim.Leads()) },
				Outage:     sinktest.FaultsOutage(sim.SetFaults, ivvysim.Faults{ServerErrorRate: 1}),
				LoseAnswer: func(*testing.T) { sim.Script("contact.addOrUpdateLead", ivvysim.FaultDropAfterCommit) },
			}
		},
	})
}
