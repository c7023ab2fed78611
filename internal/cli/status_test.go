package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/app"
)

// TestStatusPrintsBackfillBacklog: the route table shows the backfill
// backlog beside the live backlog and lag.
func TestStatusPrintsBackfillBacklog(t *testing.T) {
	var b strings.Builder
	printStatus(&b, app.Status{Time: time.Now(), Routes: []app.RouteStatus{
		{Name: "ss-iv", Backlog: 3, LagSeconds: 1.5, BackfillBacklog: 1234, Events: 9},
	}}, true)
	out := b.String()
	if !regexp.MustCompile(`ROUTE\s+POSITION\s+BACKLOG\s+LAG\s+BACKFILL BACKLOG\s+EVENTS`).MatchString(out) ||
		!regexp.MustCompile(`ss-iv\s+0\s+3\s+1\.5s\s+1234\s+9\s`).MatchString(out) {
		t.Fatalf("status output:\n%s", out)
	}
}
