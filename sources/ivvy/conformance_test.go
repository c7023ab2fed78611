package ivvy

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

func TestConformance(t *testing.T) {
	sourcetest.Run(t, sourcetest.Factory{
		NewEnv: func(t *testing.T) *sourcetest.Env {
			sim, clk, c := newSim(t, ivvysim.Options{}, nil)
			state := testenv.State(t)
			seed := sourcetest.Seeded(func(n int) int64 {
				cid := sim.SeedContact(ivvysim.Contact{FirstName: "F", LastName: fmt.Sprint("L", n), Email: fmt.Sprintf("p%d@example.com", n)})
				return sim.SeedLead(ivvysim.Lead{Name: "L", SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
			})
			return &sourcetest.Env{
				Bus: testenv.Bus(t), Cursors: state, Cursor: "ivvy.lead", Subject: pipeline.Subject("lead", "ivvy"),
				Start: func(t *testing.T, pub pipeline.Publisher) sourcetest.Poll {
					p, err := NewLeadPoller(Config{Client: c, Publisher: pub, State: state, PerPage: 2})
					return sourcetest.PollOf(t, p.Poll, err)
				},
				Create: func(t *testing.T, k int) []string {
					clk.Add(time.Minute)
					return seed(t, k)
				},
				Change: func(t *testing.T, ids ...string) {
					clk.Add(time.Minute)
					for _, id := range ids {
						n, _ := strconv.ParseInt(id, 10, 64)
						sim.EditLead(n, func(l *ivvysim.Lead) { l.Description = "changed at " + clk.Now().String() })
					}
				},
			}
		},
	})
}
