package getlead

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit/simtest"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/getlead"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
)

func TestConformance(t *testing.T) {
	sourcetest.Run(t, sourcetest.Factory{
		Features: sourcetest.Features{
			Updates: sourcetest.Without("Getlead documents no way to find updated leads: the poller sees new ones only"),
		},
		NewEnv: func(t *testing.T) *sourcetest.Env {
			t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
			sim := getleadsim.New(getleadsim.Options{APIKey: key, Now: simtest.NewClock(t0).Now})
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			state := testenv.State(t)
			return &sourcetest.Env{
				Bus: testenv.Bus(t), Cursors: state, Cursor: "getlead.leads", Subject: pipeline.Subject("lead", "getlead"),
				Start: func(t *testing.T, pub pipeline.Publisher) sourcetest.Poll {
					p, err := NewPoller(Config{V3: getlead.V3Config{BaseURL: srv.URL + "/api/v1", APIKey: key}, State: state,
						Publisher: pub, PerPage: 2})
					return sourcetest.PollOf(t, p.Poll, err)
				},
				Create: sourcetest.Seeded(func(n int) string {
					return sim.SeedLead(getleadsim.LeadSeed{Name: fmt.Sprintf("Lead %02d", n),
						Phones: []string{fmt.Sprintf("+9198765%05d", n)}, CreatedAt: t0.Add(time.Duration(n) * time.Minute)})
				}),
			}
		},
	})
}
