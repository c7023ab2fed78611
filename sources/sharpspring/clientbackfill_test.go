package sharpspring

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/crmsync/crmsync/pipeline/snapshots"
	"github.com/crmsync/crmsync/sources/internal/pagetest"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

func TestClientBackfillPublishesEachClientOnceAsThePollerWould(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	ctx := context.Background()
	var ids []int64
	for i := range 7 {
		ids = append(ids, e.sim.SeedClient("", map[string]string{"companyName": fmt.Sprintf("Agency &amp; %d", i), "city": "Austin"}))
	}
	if _, err := e.clientPoller(nil).Poll(ctx); err != nil {
		t.Fatal(err)
	}
	live := e.events("client")
	api := e.client("v1.2")
	all := pagetest.All(t, func() *ClientPager { return &ClientPager{API: api, PageSize: 2, Now: e.clock.Now} }, func(page int) {
		if page == 1 {
			// Added during the run, after the place: read once.
			ids = append(ids, e.sim.SeedClient("", map[string]string{"companyName": "Late"}))
		}
	})
	var want []string
	for _, id := range ids {
		want = append(want, strconv.FormatInt(id, 10))
	}
	pagetest.OnceEach(t, all, want)
	pagetest.AsPolled(t, all, live)
	if total, err := (&ClientPager{API: api}).Total(ctx); err != nil || total != int64(len(ids)) {
		t.Errorf("Total = %d, %v; want %d", total, err, len(ids))
	}
	if _, _, err := (&ClientPager{API: api}).Page(ctx, "7"); !errors.Is(err, snapshots.ErrBadPageCursor) {
		t.Errorf("a cursor it did not write: %v", err)
	}
}
