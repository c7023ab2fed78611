package sharpspring

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline/sourcetest"

	"github.com/crmsync/crmsync/internal/golden"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/sources/internal/pagetest"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// seedLead stores a lead created and last updated at the given times.
func seedLead(e *env, email string, created, updated time.Time, opts ...sharpspringsim.SeedOption) int64 {
	opts = append(opts, sharpspringsim.SeedTimestamps(created, updated))
	return e.sim.SeedLead(map[string]string{"emailAddress": email, "firstName": "Back", "lastName": "Fill"}, opts...)
}

// seedHistory stores leads over a year and a half with uneven density: a
// sparse past, a bulk import of 13 leads in one second, a busy last day,
// and a few inactive leads. It returns the ids of the active ones.
func seedHistory(e *env) []int64 {
	var ids []int64
	n := 0
	add := func(created time.Time, opts ...sharpspringsim.SeedOption) int64 {
		n++
		return seedLead(e, fmt.Sprintf("h%d@example.com", n), created, created.Add(time.Hour), opts...)
	}
	for i := range 40 {
		ids = append(ids, add(t0.AddDate(-1, -6, 0).Add(time.Duration(i)*9*24*time.Hour)))
	}
	burst := t0.Add(-10 * time.Hour).Truncate(time.Second)
	for range 13 {
		ids = append(ids, add(burst))
	}
	for i := range 20 {
		ids = append(ids, add(t0.Add(-24*time.Hour).Add(time.Duration(i)*time.Minute)))
	}
	for i := range 3 {
		add(t0.AddDate(0, -2, i), sharpspringsim.SeedInactive())
	}
	return ids
}

func (e *env) pager(o LeadPager) *LeadPager {
	if o.API == nil {
		o.API = e.client("v1.2")
	}
	o.Now = e.clock.Now
	if o.PageSize == 0 {
		o.PageSize = 5
	}
	return &o
}

func runBackfill(t *testing.T, ctx context.Context, e *env, p pipeline.Pager, pub pipeline.Publisher, progress func(pipeline.BackfillProgress)) (pipeline.BackfillProgress, error) {
	t.Helper()
	bf := &pipeline.Backfill{Source: "sharpspring.lead", Pager: p, Publisher: pub, State: e.store, Progress: progress}
	return bf.Run(ctx)
}

// backfillEvents reads every event on the lead backfill subject.
func (e *env) backfillEvents() []pipeline.Event {
	e.t.Helper()
	ctx := context.Background()
	cons, err := e.bus.Consumer(ctx, "test-"+strconv.FormatInt(time.Now().UnixNano(), 36), pipeline.BackfillSubject("lead", "sharpspring"))
	if err != nil {
		e.t.Fatal(err)
	}
	return testenv.Drain(e.t, cons, 300*time.Millisecond)
}

// checkOncePerLead fails unless evs hold exactly one event per id of want
// and nothing else.
func checkOncePerLead(t *testing.T, evs []pipeline.Event, want []int64) {
	t.Helper()
	got := map[string]int{}
	for _, ev := range evs {
		got[ev.ExternalID]++
		if ev.Origin != pipeline.OriginBackfill || ev.Vendor != "sharpspring" || ev.Entity != "lead" || ev.ID == "" {
			t.Errorf("event %+v is not a sealed sharpspring lead backfill event", ev)
		}
	}
	wanted := map[string]bool{}
	for _, id := range want {
		k := strconv.FormatInt(id, 10)
		wanted[k] = true
		if got[k] != 1 {
			t.Errorf("lead %s published %d times, want once", k, got[k])
		}
	}
	for k, n := range got {
		if !wanted[k] {
			t.Errorf("unexpected lead %s (%d times)", k, n)
		}
	}
}

// TestLeadBackfillPagesEveryLeadOnce: every active lead is published
// exactly once, in whatever order SharpSpring lists leads, while leads are
// created, updated and deleted during the run; a lead updated before its
// page is read carries its new state.
func TestLeadBackfillPagesEveryLeadOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		random bool
	}{{"id-order", false}, {"random-order", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sharpspringsim.Options{RandomOrder: tc.random})
			ids := seedHistory(e)
			c := e.client("v1.2")
			ctx := context.Background()
			rec := &sourcetest.Recorder{Inner: e.bus}
			var mu sync.Mutex
			pages := 0
			var updatedOld, updatedNew []int64
			progress := func(p pipeline.BackfillProgress) {
				mu.Lock()
				defer mu.Unlock()
				if p.Published < 5 || pages > 0 {
					return
				}
				pages++
				// Mid-run: update leads already published and leads not yet
				// read, create new ones, and let time pass.
				for _, ev := range rec.Events()[:3] {
					id, _ := strconv.ParseInt(ev.ExternalID, 10, 64)
					updatedOld = append(updatedOld, id)
				}
				updatedNew = slices.Clone(ids[len(ids)-3:])
				var objs []map[string]any
				for _, id := range append(append([]int64{}, updatedOld...), updatedNew...) {
					objs = append(objs, map[string]any{"id": strconv.FormatInt(id, 10), "firstName": "Changed"})
				}
				if _, err := c.UpdateLeadsV2(ctx, objs); err != nil {
					t.Error(err)
				}
				// And delete one not yet read: it leaves no gap to skip over.
				gone := ids[len(ids)-10]
				if err := c.Call(ctx, "deleteLeads", map[string]any{"objects": []map[string]any{{"id": strconv.FormatInt(gone, 10)}}}, nil); err != nil {
					t.Error(err)
				}
				ids = slices.DeleteFunc(ids, func(id int64) bool { return id == gone })
				objs = nil
				for i := range 4 {
					objs = append(objs, map[string]any{"emailAddress": fmt.Sprintf("new%d@example.com", i)})
				}
				res, err := c.CreateLeads(ctx, objs)
				if err != nil {
					t.Error(err)
				}
				for _, r := range res {
					ids = append(ids, r.ID)
				}
				e.clock.Add(5 * time.Minute)
			}
			p, err := runBackfill(t, ctx, e, e.pager(LeadPager{}), rec, progress)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Done || pages != 1 {
				t.Fatalf("progress %+v, mutations done %d", p, pages)
			}
			evs := rec.Events()
			checkOncePerLead(t, evs, ids)
			byID := map[string]pipeline.Event{}
			for _, ev := range evs {
				byID[ev.ExternalID] = ev
			}
			for _, id := range updatedNew {
				if ev := byID[strconv.FormatInt(id, 10)]; ev.Fields["firstName"] != "Changed" || ev.Version != e.clock.Now().Add(-5*time.Minute).Format(sharpspring.TimeLayout) {
					t.Errorf("lead %d updated before its page was read: published %q version %s", id, ev.Fields["firstName"], ev.Version)
				}
			}
			if p.Published != int64(len(ids)) {
				t.Errorf("progress counts %d published, want %d", p.Published, len(ids))
			}
			checkOncePerLead(t, e.backfillEvents(), ids)
			// The one of Total, and one lookup by id proving the 13 leads
			// of the busy second complete.
			if n := requests(e.sim, "getLeads"); n != 2 {
				t.Errorf("%d getLeads requests, want the one of Total and one lookup", n)
			}
		})
	}
}

// cursorLog records the cursors a pager is asked for.
type cursorLog struct {
	pipeline.Pager
	mu      sync.Mutex
	cursors []string
}

func (c *cursorLog) Page(ctx context.Context, cursor string) ([]pipeline.Event, string, error) {
	c.mu.Lock()
	c.cursors = append(c.cursors, cursor)
	c.mu.Unlock()
	return c.Pager.Page(ctx, cursor)
}

// TestLeadBackfillResumesFromItsCursor: a run stopped in the middle of a
// page resumes, in a new pager, from the last saved cursor; the bus ends
// with every lead exactly once, including leads created between the runs.
func TestLeadBackfillResumesFromItsCursor(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	ids := seedHistory(e)
	ctx, cancel := context.WithCancel(context.Background())
	crash := &sourcetest.CrashAfter{Inner: e.bus, After: 17, Cancel: cancel}
	if _, err := runBackfill(t, ctx, e, e.pager(LeadPager{}), crash, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v, want it stopped", err)
	}
	run, err := e.store.BackfillRun(context.Background(), "sharpspring.lead", "", "")
	if err != nil || run.Cursor == "" || run.Done {
		t.Fatalf("saved run %+v, %v: want a cursor mid-way", run, err)
	}
	// Leads created while the backfill was stopped.
	e.clock.Add(time.Minute)
	for i := range 3 {
		ids = append(ids, seedLead(e, fmt.Sprintf("between%d@example.com", i), e.clock.Now(), e.clock.Now()))
	}
	e.clock.Add(time.Minute)

	log := &cursorLog{Pager: e.pager(LeadPager{})}
	rec := &sourcetest.Recorder{Inner: e.bus}
	p, err := runBackfill(t, context.Background(), e, log, rec, nil)
	if err != nil || !p.Done {
		t.Fatalf("second run: %+v, %v", p, err)
	}
	if log.cursors[0] != run.Cursor {
		t.Fatalf("second run started at %q, want the saved cursor %q", log.cursors[0], run.Cursor)
	}
	if n := len(rec.Events()); n >= len(ids) {
		t.Errorf("second run published %d events: it started over", n)
	}
	checkOncePerLead(t, e.backfillEvents(), ids)
	if _, err := runBackfill(t, context.Background(), e, e.pager(LeadPager{}), e.bus, nil); !errors.Is(err, pipeline.ErrBackfillDone) {
		t.Fatalf("third run: %v, want ErrBackfillDone", err)
	}
}

// TestLeadBackfillRangeIsCreationTime: Since and Until select leads by
// creation time, bounds included, whatever their last update.
func TestLeadBackfillRangeIsCreationTime(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	since := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2025, 6, 30, 23, 59, 59, 0, time.UTC)
	var want []int64
	n := 0
	add := func(created, updated time.Time) int64 {
		n++
		return seedLead(e, fmt.Sprintf("r%d@example.com", n), created, updated)
	}
	add(since.Add(-time.Second), since.Add(-time.Second))
	add(since.AddDate(0, -1, 0), since.AddDate(0, 0, 3)) // updated inside, created before
	want = append(want, add(since, since))
	want = append(want, add(since.Add(400*time.Millisecond), since.Add(time.Second)))
	for i := range 12 {
		want = append(want, add(since.AddDate(0, 0, 2*i+1), t0)) // created inside, updated after
	}
	want = append(want, add(until, until))
	want = append(want, add(until.Add(900*time.Millisecond), until.Add(time.Hour)))
	add(until.Add(time.Second), until.Add(time.Second))
	add(t0.Add(-time.Hour), t0.Add(-time.Hour))

	rec := &sourcetest.Recorder{}
	pager := e.pager(LeadPager{Since: since, Until: until})
	p, err := runBackfill(t, context.Background(), e, pager, rec, nil)
	if err != nil || !p.Done {
		t.Fatalf("%+v, %v", p, err)
	}
	checkOncePerLead(t, rec.Events(), want)
	if total, err := pager.Total(context.Background()); total != -1 || err != nil {
		t.Errorf("Total with a range = %d, %v; want -1", total, err)
	}

	// Since alone runs to now − Lag.
	rec = &sourcetest.Recorder{}
	bf := &pipeline.Backfill{Source: "sharpspring.lead", Since: "x", Pager: e.pager(LeadPager{Since: until.Add(time.Second)}), Publisher: rec, State: e.store}
	if _, err := bf.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if evs := rec.Events(); len(evs) != 2 {
		t.Errorf("since alone: %d events, want the 2 leads created after until", len(evs))
	}
}

// TestLeadBackfillTotal: the active lead count, exact under one page and
// within 1% above.
func TestLeadBackfillTotal(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	for i := range 37 {
		seedLead(e, fmt.Sprintf("t%d@example.com", i), t0.Add(-time.Hour), t0.Add(-time.Hour))
	}
	seedLead(e, "inactive@example.com", t0.Add(-time.Hour), t0.Add(-time.Hour), sharpspringsim.SeedInactive())
	pager := e.pager(LeadPager{})
	if n, err := pager.Total(context.Background()); n != 37 || err != nil {
		t.Fatalf("Total = %d, %v; want 37", n, err)
	}
	for i := 37; i < 2345; i++ {
		seedLead(e, fmt.Sprintf("t%d@example.com", i), t0.Add(-time.Hour), t0.Add(-time.Hour))
	}
	before := requests(e.sim, "getLeads")
	n, err := pager.Total(context.Background())
	if err != nil || n < 2345 || n > 2345+2345/100 {
		t.Fatalf("Total = %d, %v; want 2345 within 1%%", n, err)
	}
	if r := requests(e.sim, "getLeads") - before; r > 12 {
		t.Errorf("Total took %d requests", r)
	}
}

// TestLeadBackfillCorruptCursor: a cursor the pager did not write is a
// clear error, and no request is sent.
func TestLeadBackfillCorruptCursor(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	pager := e.pager(LeadPager{})
	for _, tc := range []struct{ name, cursor string }{
		{"offset", "500"},
		{"not-json", "{garbage"},
		{"version", `{"v":7,"next":"2026-01-01 00:00:00"}`},
		{"time", `{"v":1,"next":"yesterday"}`},
		{"width", `{"v":1,"next":"2026-01-01 00:00:00","width":-1}`},
		{"full", `{"v":1,"next":"2026-01-01 00:00:00","full":"soon"}`},
		{"empty", `{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := pager.Page(context.Background(), tc.cursor)
			if !errors.Is(err, ErrBadBackfillCursor) || !strings.Contains(err.Error(), "stored cursor") {
				t.Fatalf("err = %v, want ErrBadBackfillCursor", err)
			}
		})
	}
	if n := e.sim.Stats().Requests; n != 0 {
		t.Errorf("%d requests for corrupt cursors", n)
	}
}

// TestLeadBackfillCursorFormat guards the persisted cursor.
func TestLeadBackfillCursorFormat(t *testing.T) {
	s := backfillCursor{next: time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC), width: 90 * time.Minute,
		full: time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)}.encode()
	const path = "testdata/lead_backfill_cursor.golden.json"
	if !golden.Compare(t, path, []byte(s+"\n")) {
		t.FailNow()
	}
	want := golden.Read(t, path)
	back, err := (&LeadPager{}).decode(strings.TrimSpace(want))
	if err != nil || !back.next.Equal(time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)) || back.width != 90*time.Minute ||
		!back.full.Equal(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v %v", back, err)
	}
}

// TestLeadBackfillLeavesTheLiveReserve: through a budget view with a
// reserve, the backfill stops with a quota error once it would eat into
// the reserve, and live traffic still has it.
func TestLeadBackfillLeavesTheLiveReserve(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	seedHistory(e)
	live := pipeline.NewBudget(pipeline.BudgetConfig{Account: "sharpspring:1001", Daily: 12}, e.store)
	c, err := sharpspring.New(sharpspring.Config{Endpoint: e.srv.URL + "/pubapi/v1.2/", AccountID: sharpspringsim.DefaultAccountID,
		SecretKey: sharpspringsim.DefaultSecretKey, Gate: live.WithReserve(5)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = runBackfill(t, context.Background(), e, e.pager(LeadPager{API: c}), &sourcetest.Recorder{}, nil)
	if _, ok := pipeline.IsQuota(err); !ok {
		t.Fatalf("err = %v, want a quota error", err)
	}
	if n := e.sim.Stats().Requests; n != 7 {
		t.Fatalf("backfill sent %d requests, want 12 − 5 reserved", n)
	}
	for range 5 {
		if err := live.Wait(context.Background()); err != nil {
			t.Fatalf("live traffic lost its reserve: %v", err)
		}
		live.Answered()
	}
}

// TestLeadBackfillKeepsToTheRateLimit: on the real clock, through the
// account's shared budget, no second carries more than SharpSpring's 10
// requests and none is refused.
func TestLeadBackfillKeepsToTheRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds of real time")
	}
	sim := sharpspringsim.New(sharpspringsim.Options{})
	t.Cleanup(sim.Close)
	e := newEnv(t, sharpspringsim.Options{})
	srv := newSimServer(t, sim)
	var want []int64
	base := time.Now().UTC().Add(-48 * time.Hour)
	for i := range 80 {
		at := base.Add(time.Duration(i) * 23 * time.Minute)
		want = append(want, sim.SeedLead(map[string]string{"emailAddress": fmt.Sprintf("rate%d@example.com", i)}, sharpspringsim.SeedTimestamps(at, at)))
	}
	budget := pipeline.NewBudget(pipeline.BudgetConfig{Account: "sharpspring:1001", PerSecond: 10, Daily: 50000, Shared: true}, e.store)
	c, err := sharpspring.New(sharpspring.Config{Endpoint: srv + "/pubapi/v1.2/", AccountID: sharpspringsim.DefaultAccountID,
		SecretKey: sharpspringsim.DefaultSecretKey, Gate: budget.WithReserve(5000)})
	if err != nil {
		t.Fatal(err)
	}
	rec := &sourcetest.Recorder{}
	p, err := runBackfill(t, context.Background(), e, &LeadPager{API: c, PageSize: 5}, rec, nil)
	if err != nil || !p.Done {
		t.Fatalf("%+v, %v", p, err)
	}
	checkOncePerLead(t, rec.Events(), want)
	st := sim.Stats()
	if st.Rejected107 != 0 || st.MaxInSlidingSecond > 10 {
		t.Fatalf("%d requests refused with 107; at most %d in one second (limit 10)", st.Rejected107, st.MaxInSlidingSecond)
	}
	used, err := e.store.QuotaUsed(context.Background(), "sharpspring:1001", time.Now())
	if err != nil || used != st.Requests {
		t.Fatalf("quota counted %d requests, simulator saw %d (%v)", used, st.Requests, err)
	}
	t.Logf("%d leads in %d requests, %d pages", len(want), st.Requests, p.Pages)
}

// newSimServer serves sim over HTTP for the test and returns its URL.
func newSimServer(t *testing.T, sim *sharpspringsim.Server) string {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestNextWidth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		span    time.Duration
		n, size int
		want    time.Duration
	}{
		{"empty grows 8-fold", time.Hour, 0, 500, 8 * time.Hour},
		{"dense shrinks to 70% of a page", time.Hour, 700, 500, 30 * time.Minute},
		{"sparse grows at most 8-fold", time.Hour, 1, 500, 8 * time.Hour},
		{"at least a second", time.Second, 499, 500, time.Second},
		{"century-long span stays bounded", 150 * 365 * 24 * time.Hour, 0, 500, maxWidth},
		{"century-long sparse span stays bounded", 150 * 365 * 24 * time.Hour, 3, 500, maxWidth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextWidth(tc.span, tc.n, tc.size); got != tc.want {
				t.Fatalf("nextWidth(%v, %d, %d) = %v, want %v", tc.span, tc.n, tc.size, got, tc.want)
			}
		})
	}
}

// TestLeadBackfillFromLongAgo: a range reaching back more than a century
// pages like any other, and every cursor it writes reads back.
func TestLeadBackfillFromLongAgo(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{})
	ids := seedHistory(e)
	pager := e.pager(LeadPager{Since: time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC)})
	checkOncePerLead(t, pagetest.All(t, func() *LeadPager { return pager }, nil), ids)
}
