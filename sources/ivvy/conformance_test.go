package ivvy

import (
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit/simtest"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/ivvy"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

func TestConformance(t *testing.T) {
	sourcetest.Run(t, sourcetest.Factory{
		NewEnv: func(t *testing.T) *sourcetest.Env {
			clk := simtest.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
			sim := ivvysim.New(ivvysim.Options{Now: clk.Now})
			srv := httptest.NewServer(sim)
			t.Cleanup(func() { sim.Close(); srv.Close() })
			c, err := ivvy.New(ivvy.Config{Endpoint: srv.URL, APIKey: ivvysim.DefaultKey, APISecret: ivvysim.DefaultSecret, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			state := testenv.State(t)
			n := 0
			return &sourcetest.Env{
				Bus: testenv.Bus(t), Cursors: state, Cursor: "ivvy.lead", Subject: pipeline.Subject("lead", "ivvy"),
				Start: func(t *testing.T, pub pipeline.Publisher) sourcetest.Poll {
					p, err := NewLeadPoller(Config{Client: c, Publisher: pub, State: state, PerPage: 2})
					return sourcetest.PollOf(t, p.Poll, err)
				},
				Create: func(_ *testing.T, k int) []string {
					clk.Add(time.Minute)
					var ids []string
					for range k {
						n++
						cid := sim.SeedContact(ivvysim.Contact{FirstName: "F", LastName: fmt.Sprint("L", n), Email: fmt.Sprintf("p%d@example.com", n)})
						id := sim.SeedLead(ivvysim.Lead{Name: "L", SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
						ids = append(ids, strconv.FormatInt(id, 10))
					}
					return ids
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
