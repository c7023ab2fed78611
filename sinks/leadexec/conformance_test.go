package leadexec

import (
	"fmt"
	"testing"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sinktest"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// outage makes every LeadExec request answer 503 until it ends.
func outage(sim *leadexecsim.Server) func(*testing.T) func() {
	return func(*testing.T) func() {
		sim.FailNext(leadexecsim.EndpointAny, 1_000_000, 503)
		return sim.ClearFaults
	}
}

func TestLeadSinkConformance(t *testing.T) {
	lead := func(key string, fields map[string]string) *pipeline.Record {
		return &pipeline.Record{Key: key, Fields: fields, NaturalKeys: map[string]string{"Email": fields["Email"]}}
	}
	sinktest.Run(t, sinktest.Factory{
		Features: sinktest.Features{
			ReadBack: sinktest.Without("the lead receiver only inserts, and the sink has no reader: LeadExec leads cannot be replayed into"),
		},
		NewEnv: func(t *testing.T) *sinktest.Env {
			e := newSimEnv(t, leadexecsim.Options{})
			return &sinktest.Env{
				Sink:   e.leadSink(t, V2, nil),
				Record: func(i int) *pipeline.Record { return lead(fmt.Sprintf("lead-%d", i), person(i)) },
				// LeadExec answers Data_Errors for an email that is not an address.
				Bad: func(i int) *pipeline.Record {
					return lead(fmt.Sprintf("bad-%d", i), person(100+i, "Email", "not-an-address"))
				},
				Held:       func(*testing.T) int { return len(e.sim.Leads()) },
				Outage:     outage(e.sim),
				LoseAnswer: func(*testing.T) { e.sim.DropAfterCommit(leadexecsim.EndpointInsertV2, 1) },
			}
		},
	})
}

func TestClientSinkConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Factory{
		NewEnv: func(t *testing.T) *sinktest.Env {
			e := newSimEnv(t, leadexecsim.Options{})
			return &sinktest.Env{
				Sink: e.clientSink(nil),
				Record: func(i int) *pipeline.Record {
					return clientRecord(fmt.Sprintf("c%d", i), "", mappings.Client{mappings.Company: fmt.Sprintf("Acme %d", i),
						mappings.Email: fmt.Sprintf("ops%d@acme.example", i), mappings.Phone: fmt.Sprintf("51255501%02d", i), mappings.City: "Austin"})
				},
				// An edit of a client LeadExec no longer has.
				Bad: func(i int) *pipeline.Record {
					return clientRecord(fmt.Sprintf("gone%d", i), fmt.Sprint(999900+i), mappings.Client{mappings.City: "Waco"})
				},
				Held:       func(*testing.T) int { return len(e.sim.Clients()) },
				Outage:     outage(e.sim),
				LoseAnswer: func(*testing.T) { e.sim.DropAfterCommit(leadexecsim.EndpointEditClient, 1) },
			}
		},
	})
}
