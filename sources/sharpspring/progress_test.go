package sharpspring

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// A request refused anywhere in a window of many requests costs that
// request and nothing more: the poll that met it keeps what it published,
// in the cursor, and the next poll goes on from the refused request. The
// window, its leads and the requests spent are those of a poll that met no
// refusal, plus the one repeated. Before, the window was read again from
// its start, and with other clients spending the account's rate it was
// never read through.
func TestPollerRepeatsOnlyTheRefusedRequestOfAWindow(t *testing.T) {
	testenv.SkipUnderRace(t)
	seed := func(e *env) {
		seedSpread(e, 1700, t0.Add(-50*time.Minute), time.Second)
		bulk := t0.Add(-15 * time.Minute).Truncate(time.Second)
		seedBulk(e, 1100, bulk, bulk) // a busy second in the middle
	}
	cfg := LeadPollerConfig{Since: t0.Add(-time.Hour), SweepInterval: -1, PageSize: 200}

	clean := newEnv(t, sharpspringsim.Options{})
	seed(clean)
	pollUntilCaughtUp(t, clean.poller(cfg, &sourcetest.Recorder{}))
	want := clean.sim.Stats().Requests
	t.Logf("a window of 2,800 leads, 1,100 of them in one second: %d requests", want)

	for _, tc := range []struct {
		method string
		nth    int
	}{
		{"getLeadsDateRange", 1}, {"getLeadsDateRange", 5}, {"getLeadsDateRange", 17}, {"getLeadsDateRange", 20}, {"getLeads", 2},
	} {
		t.Run(fmt.Sprintf("%s %d", tc.method, tc.nth), func(t *testing.T) {
			e := newEnv(t, sharpspringsim.Options{})
			seed(e)
			script := make([]sharpspringsim.Fault, tc.nth)
			script[tc.nth-1] = sharpspringsim.Fault107
			e.sim.Script(tc.method, script...)
			rec := &sourcetest.Recorder{}
			p := e.poller(cfg, rec)
			_, err := p.Poll(context.Background())
			var se *sharpspring.Error
			if !errors.As(err, &se) || se.Class() != apierr.RateLimited {
				t.Fatalf("the poll met no 107: %v", err)
			}
			pollUntilCaughtUp(t, p)
			checkExactlyOnce(t, rec.Events(), snapshot(e.sim))
			if got := e.sim.Stats().Requests; got != want+1 {
				t.Errorf("%d requests, want %d: the %d of a window without refusal and the refused one again", got, want+1, want)
			}
		})
	}
}
