package leadexec

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

func TestClientPollerConformance(t *testing.T) {
	sourcetest.Run(t, sourcetest.Factory{
		NewEnv: func(t *testing.T) *sourcetest.Env {
			e := newPollEnv(t, leadexecsim.Options{ClientFields: []leadexecsim.ClientFieldDef{
				{ClientFieldUID: 11, Descriptor: "Company", SpecialBit: "Company"},
				{ClientFieldUID: 13, Descriptor: "City", SpecialBit: "City"},
			}})
			return &sourcetest.Env{
				Bus: e.bus, Cursors: e.state, Cursor: "leadexec.client", Subject: pipeline.Subject("client", "leadexec"),
				Start: func(t *testing.T, pub pipeline.Publisher) sourcetest.Poll {
					return sourcetest.PollOf(t, e.clientPoller(pub).Poll, nil)
				},
				Create: sourcetest.Seeded(func(n int) int64 {
					return e.sim.AddClient(leadexecsim.Client{Username: fmt.Sprintf("client-%d", n),
						Fields: map[int64]string{11: fmt.Sprintf("Acme %d", n), 13: "Austin"}})
				}),
				Change: func(t *testing.T, ids ...string) {
					for _, id := range ids {
						uid, _ := strconv.ParseInt(id, 10, 64)
						if err := e.sim.SetClientField(uid, 13, "Dallas"); err != nil {
							t.Fatal(err)
						}
					}
				},
			}
		},
	})
}
