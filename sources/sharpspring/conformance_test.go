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
	runConformance(t, "lead", func(e *env, env *sourcetest.Env) {
		env.Start = func(t *testing.T, pub pipeline.Publisher) sourcetest.Poll {
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
		}
		// Leads changed now; the clock then moves past the poller's lag.
		seed := sourcetest.Seeded(func(n int) int64 {
			now := e.clock.Now()
			return e.sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("lead%d@example.com", n), "firstName": "Lead",
				"lastName": strconv.Itoa(n)}, sharpspringsim.SeedTimestamps(now, now))
		})
		env.Create = func(t *testing.T, k int) []string {
			ids := seed(t, k)
			e.clock.Add(time.Minute)
			return ids
		}
		env.Change = func(t *testing.T, ids ...string) {
			var objs []map[string]any
			for _, id := range ids {
				objs = append(objs, map[string]any{"id": id, "companyName": "changed at " + e.clock.Now().String()})
			}
			if _, err := e.client("v1.2").UpdateLeadsV2(context.Background(), objs); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(time.Minute)
		}
	})
}

func TestClientPollerConformance(t *testing.T) {
	runConformance(t, "client", func(e *env, env *sourcetest.Env) {
		env.Start = func(t *testing.T, pub pipeline.Publisher) sourcetest.Poll {
			return sourcetest.PollOf(t, e.clientPoller(pub).Poll, nil)
		}
		env.Create = sourcetest.Seeded(func(n int) int64 {
			return e.sim.SeedClient("", map[string]string{"companyName": fmt.Sprintf("Acme %d", n), "city": "Austin"})
		})
		env.Change = func(_ *testing.T, ids ...string) {
			for _, id := range ids {
				n, _ := strconv.ParseInt(id, 10, 64)
				e.sim.SetClientFields(n, map[string]string{"city": "Dallas"})
			}
		}
	})
}

// runConformance runs the source suite on the poller of entity, each run
// in a new env; add says how the poller starts and how records are created
// and changed.
func runConformance(t *testing.T, entity string, add func(*env, *sourcetest.Env)) {
	sourcetest.Run(t, sourcetest.Factory{
		NewEnv: func(t *testing.T) *sourcetest.Env {
			e := newEnv(t, sharpspringsim.Options{})
			env := &sourcetest.Env{Bus: e.bus, Cursors: e.store, Cursor: "sharpspring." + entity, Subject: pipeline.Subject(entity, "sharpspring")}
			add(e, env)
			return env
		},
	})
}
