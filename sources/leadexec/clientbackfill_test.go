package leadexec

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/snapshots"
	"github.com/crmsync/crmsync/sources/internal/pagetest"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

func TestClientBackfillPublishesEachClientOnceAsThePollerWould(t *testing.T) {
	e := newPollEnv(t, leadexecsim.Options{})
	ctx := context.Background()
	added := e.clock.Now().Add(-100 * 24 * time.Hour)
	var uids []int64
	for i := range 11 {
		uids = append(uids, e.sim.AddClient(leadexecsim.Client{Username: fmt.Sprintf("buyer%d", i), DateAdded: added.Add(time.Duration(i) * 24 * time.Hour),
			Fields: map[int64]string{1001: fmt.Sprintf("Buyer %d", i), 1004: fmt.Sprintf("b%d@example.com", i), 1007: ""}}))
	}
	if _, err := e.clientPoller(e.bus).Poll(ctx); err != nil {
		t.Fatal(err)
	}
	live := e.drain("poll", "client")

	var want []string
	for _, u := range uids {
		want = append(want, strconv.FormatInt(u, 10))
	}
	pages := 0
	evs := pagetest.All(t, func() pipeline.Pager { return &ClientPager{API: e.c, PageSize: 3, Now: e.clock.Now} }, func(page int) {
		pages++
		if page == 1 {
			// Behind the place: the live poller's. Ahead of it: read once.
			e.sim.AddClient(leadexecsim.Client{ClientUID: uids[0] + 1000, Username: "late", Fields: map[int64]string{1001: "Late"}})
			e.sim.AddClient(leadexecsim.Client{ClientUID: 1, Username: "early", Fields: map[int64]string{1001: "Early"}})
		}
	})
	want = append(want, strconv.FormatInt(uids[0]+1000, 10))
	pagetest.OnceEach(t, evs, want)
	if pages+1 != 4 {
		t.Errorf("%d pages of 3 for 12 clients", pages+1)
	}
	pagetest.AsPolled(t, evs, live)
	for _, ev := range evs {
		if ev.Vendor != "leadexec" || ev.Entity != "client" || ev.Op != pipeline.OpUpsert {
			t.Errorf("event %+v", ev)
		}
	}

	// Since/Until select by DateAdded.
	evs = pagetest.All(t, func() pipeline.Pager {
		return &ClientPager{API: e.c, Since: added.Add(2 * 24 * time.Hour), Until: added.Add(4 * 24 * time.Hour), Now: e.clock.Now}
	}, nil)
	pagetest.OnceEach(t, evs, want[2:5])
	if n, err := (&ClientPager{API: e.c}).Total(ctx); err != nil || n != 13 {
		t.Errorf("Total = %d, %v; want 13", n, err)
	}
	if _, _, err := (&ClientPager{API: e.c}).Page(ctx, `{"v":1}`); !errors.Is(err, snapshots.ErrBadPageCursor) {
		t.Errorf("a cursor without a place: %v", err)
	}
}
