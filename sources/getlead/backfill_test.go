package getlead

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/pagetest"
	"github.com/crmsync/crmsync/vendors/getlead"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/simkit/simtest"
)

// backfillSim serves a Getlead simulator and returns a V3 client of it.
func backfillSim(t *testing.T, t0 time.Time) (*getleadsim.Server, *getlead.V3) {
	t.Helper()
	sim := getleadsim.New(getleadsim.Options{APIKey: key, Now: simtest.NewClock(t0).Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	api, err := getlead.NewV3(getlead.V3Config{BaseURL: srv.URL + "/api/v1", APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return sim, api
}

func countIDs(evs []pipeline.Event) map[string]int {
	n := map[string]int{}
	for _, e := range evs {
		n[e.ExternalID]++
	}
	return n
}

func TestBackfillPublishesEachLeadOnceThroughTiesLargerThanAPage(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	sim, api := backfillSim(t, t0.Add(time.Hour))
	// 7 leads in one second (more than three pages of 2), then singles and
	// pairs.
	at := []time.Duration{0, 0, 0, 0, 0, 0, 0, time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second,
		4 * time.Second, 4 * time.Second, 4 * time.Second, 5 * time.Second}
	var ids []string
	for i, d := range at {
		ids = append(ids, sim.SeedLead(getleadsim.LeadSeed{Name: fmt.Sprintf("Lead %02d", i), Email: fmt.Sprintf("l%d@example.com", i),
			Phones: []string{fmt.Sprintf("+9198765%05d", i)}, Custom: map[string]string{"Referred By": "ad"}, CreatedAt: t0.Add(d)}))
	}
	evs := pagetest.All(t, func() *LeadPager { return &LeadPager{API: api, PerPage: 2} }, nil)
	pagetest.OnceEach(t, evs, ids)
	for i := 1; i < len(evs); i++ {
		if evs[i].ChangedAt.Before(evs[i-1].ChangedAt) {
			t.Errorf("event %d (%s) is older than the one before it", i, evs[i].ChangedAt)
		}
	}
}

func TestBackfillEventsEqualThePollersEvents(t *testing.T) {
	ctx := context.Background()
	f := setup(t, 3, 100)
	f.seed(0, 10, func(i int) time.Duration { return time.Duration(i/3) * time.Second })
	if _, err := f.poller.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	live := f.received(t)
	if len(live) != 10 {
		t.Fatalf("the poller published %d events for 10 leads", len(live))
	}
	api, err := getlead.NewV3(f.poller.cfg.V3)
	if err != nil {
		t.Fatal(err)
	}
	pagetest.SameIDs(t, pagetest.All(t, func() *LeadPager { return &LeadPager{API: api, PerPage: 4} }, nil), live)
}

func TestBackfillRangeSelectsByCreationTimeAndLeadsAddedDuringTheRunLandOnce(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	sim, api := backfillSim(t, t0.Add(time.Hour))
	names := map[string]string{}
	for i := range 10 {
		id := sim.SeedLead(getleadsim.LeadSeed{Name: fmt.Sprintf("Lead %02d", i), Phones: []string{fmt.Sprintf("+9198765%05d", i)},
			CreatedAt: t0.Add(time.Duration(i) * time.Minute)})
		names[id] = fmt.Sprintf("Lead %02d", i)
	}
	evs := pagetest.All(t, func() *LeadPager {
		return &LeadPager{API: api, PerPage: 2, Since: t0.Add(3 * time.Minute), Until: t0.Add(6 * time.Minute)}
	}, nil)
	var got []string
	for _, e := range evs {
		got = append(got, e.Fields[mappings.GetleadName])
	}
	if want := []string{"Lead 03", "Lead 04", "Lead 05", "Lead 06"}; !slices.Equal(got, want) {
		t.Errorf("--since 3m --until 6m published %v, want %v", got, want)
	}

	// An open range: a lead created between pages is read once, at the end.
	added := 0
	evs = pagetest.All(t, func() *LeadPager { return &LeadPager{API: api, PerPage: 3} }, func(page int) {
		if page == 1 {
			sim.SeedLead(getleadsim.LeadSeed{Name: "Late", Phones: []string{"+919999900001"}, CreatedAt: t0.Add(time.Hour)})
			added++
		}
	})
	counts := countIDs(evs)
	if len(evs) != 10+added || len(counts) != 10+added {
		t.Errorf("%d events for %d leads: %v", len(evs), 10+added, counts)
	}
}

func TestBackfillRefusesACursorItDidNotWrite(t *testing.T) {
	_, api := backfillSim(t, time.Now())
	p := &LeadPager{API: api}
	for _, c := range []string{"12", `{"from":"2025-01-01T00:00:00Z"}`, `{"v":2}`, `{"v":1,"seen":[" "]}`} {
		if _, _, err := p.Page(context.Background(), c); !errors.Is(err, ErrBadBackfillCursor) {
			t.Errorf("cursor %s: err %v, want ErrBadBackfillCursor", c, err)
		}
	}
}

// TestBackfillCursorFormat guards the persisted cursor: a stored run must
// resume after an upgrade.
func TestBackfillCursorFormat(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 500, time.UTC)
	const stored = `{"v":1,"from":"2025-03-01T10:00:00.0000005Z","seen":["01A","01B"]}`
	if got := encodeBackfillCursor(Cursor{From: at, Seen: []string{"01A", "01B"}}); got != stored {
		t.Errorf("encoded %s, want %s", got, stored)
	}
	c, err := decodeBackfillCursor(stored)
	if err != nil || !c.From.Equal(at) || !slices.Equal(c.Seen, []string{"01A", "01B"}) {
		t.Errorf("decoded %+v, %v", c, err)
	}
	if got := encodeBackfillCursor(Cursor{}); got != `{"v":1}` {
		t.Errorf("the cursor before the first lead: %s", got)
	}
}
