package sharpspring

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

func TestLeadPollerConformance(t *testing.T) {
	sourcetest.Run(t, sourcetest.Factory{
		NewEnv: func(t *testing.T) *sourcetest.Env {
			e := newEnv(t, sharpspringsim.Options{})
			n := 0
			return &sourcetest.Env{
				Bus: e.bus, Cursors: e.store, Cursor: "sharpspring.lead", Subject: pipeline.Subject("lead", "sharpspring"),
				Start: func(t *testing.T, pub pipeline.Publisher) sourcetest.Poll {
					p := e.poller(LeadPollerConfig{Since: t0.Add(-time.Hour), SweepInterval: -1}, pub)
					// One poll of the suite is the windows up to now − Lag.
					return func(ctx context.Context) error {
						for {
							res, err := p.Poll(ctx)
							if err != nil || res.CaughtUp {
								return err
							}
						}
					}
				},
				// Leads changed now; the clock then moves past the poller's lag.
				Create: func(_ *testing.T, k int) []string {
					now := e.clock.Now()
					var ids []string
					for range k {
						n++
						id := e.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("lead%d@example.com", n), "firstName": "Lead",
							"lastName": strconv.Itoa(n)}, sharpspringsim.SeedTimestamps(now, now))
						ids = append(ids, strconv.FormatInt(id, 10))
					}
					e.clock.Add(time.Minute)
					return ids
				},
				Change: func(t *testing.T, ids ...string) {
					var objs []map[string]any
					for _, id := range ids {
						objs = append(objs, map[string]any{"id": id, "companyName": "changed at " + e.clock.Now().String()})
					}
					if _, err := e.client("v1.2").UpdateLeadsV2(context.Background(), objs); err != nil {
						t.Fatal(err)
					}
					e.clock.Add(time.Minute)
				},
			}
		},
	})
}

func TestClientPollerConformance(t *testing.T) {
	sourcetest.Run(t, sourcetest.Factory{
		NewEnv: func(t *testing.T) *sourcetest.Env {
			e := newEnv(t, sharpspringsim.Options{})
			n := 0
			return &sourcetest.Env{
				Bus: e.bus, Cursors: e.store, Cursor: "sharpspring.client", Subject: pipeline.Subject("client", "sharpspring"),
				Start: func(t *testing.T, pub pipeline.Publisher) sourcetest.Poll {
					return sourcetest.PollOf(t, e.clientPoller(pub).Poll, nil)
				},
				Create: func(_ *testing.T, k int) []string {
					var ids []string
					for range k {
						n++
						id := e.sim.SeedClient("", map[string]string{"companyName": fmt.Sprintf("Acme %d", n), "city": "Austin"})
						ids = append(ids, strconv.FormatInt(id, 10))
					}
					return ids
				},
				Change: func(_ *testing.T, ids ...string) {
					for _, id := range ids {
						n, _ := strconv.ParseInt(id, 10, 64)
						e.sim.SetClientFields(n, map[string]string{"city": "Dallas"})
					}
				},
			}
		},
	})
}
