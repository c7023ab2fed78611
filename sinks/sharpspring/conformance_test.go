package sharpspring

import (
	"fmt"
	"testing"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sinktest"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

func TestLeadSinkConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Factory{
		NewEnv: func(t *testing.T) *sinktest.Env {
			s, sim := newSink(t, sharpspringsim.Options{})
			return &sinktest.Env{
				Sink: s,
				Record: func(i int) *pipeline.Record {
					return rec(fmt.Sprintf("p%d@example.com", i), map[string]string{
						"firstName": fmt.Sprintf("Pat%d", i), "lastName": "Lee", "companyName": fmt.Sprintf("Co %d", i)})
				},
				// SharpSpring refuses an unknown lead status with 205.
				Bad: func(i int) *pipeline.Record {
					return rec(fmt.Sprintf("bad%d@example.com", i), map[string]string{"leadStatus": "not-a-status"})
				},
				Held:       func(*testing.T) int { return len(sim.Leads()) },
				Outage:     sinktest.FaultsOutage(sim.SetFaults, sharpspringsim.Faults{ServerErrorRate: 1}),
				LoseAnswer: func(*testing.T) { sim.Script("createLeads", sharpspringsim.FaultDropAfterCommit) },
			}
		},
	})
}

func TestClientSinkConformance(t *testing.T) {
	enc := mappings.SharpSpringClients{}
	client := func(key string, c mappings.Client) *pipeline.Record {
		return &pipeline.Record{Key: key, Fields: enc.Encode(c), NaturalKeys: enc.NaturalKeys(c)}
	}
	sinktest.Run(t, sinktest.Factory{
		NewEnv: func(t *testing.T) *sinktest.Env {
			s, sim, _ := newClientSink(t, sharpspringsim.Options{}, "1001")
			return &sinktest.Env{
				Sink: s,
				Record: func(i int) *pipeline.Record {
					return client(fmt.Sprintf("c%d", i), mappings.Client{mappings.Company: fmt.Sprintf("Acme %d", i),
						mappings.Phone: fmt.Sprintf("+1 555 01%02d", i), mappings.City: "Austin", mappings.ClientStatus: mappings.ClientInactive})
				},
				// SharpSpring refuses an unknown country with 215.
				Bad: func(i int) *pipeline.Record {
					return client(fmt.Sprintf("bad%d", i), mappings.Client{mappings.Company: fmt.Sprintf("Bad %d", i),
						mappings.Phone: "555", mappings.Country: "XX"})
				},
				Held:       func(*testing.T) int { return len(sim.Clients()) },
				Outage:     sinktest.FaultsOutage(sim.SetFaults, sharpspringsim.Faults{ServerErrorRate: 1}),
				LoseAnswer: func(*testing.T) { sim.Script("createClient", sharpspringsim.FaultDropAfterCommit) },
			}
		},
	})
}
