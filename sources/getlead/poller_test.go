package getlead

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit/simtest"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/natsbus"
	"github.com/crmsync/crmsync/vendors/getlead"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
)

const key = "ik_poller_test_key"

type fixture struct {
	sim    *getleadsim.Server
	state  *checkpoints.Store
	bus    *natsbus.Bus
	cons   pipeline.Consumer
	poller *Poller
	pub    *flakyPublisher
	t0     time.Time
}

// flakyPublisher is the real bus, failing every publish while fail is set.
type flakyPublisher struct {
	pipeline.Publisher
	fail atomic.Bool
}

func (f *flakyPublisher) Publish(ctx context.Context, ev pipeline.Event) error {
	if f.fail.Load() {
		return errors.New("bus unavailable")
	}
	return f.Publisher.Publish(ctx, ev)
}

func setup(t *testing.T, perPage, maxPages int) *fixture {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	sim := getleadsim.New(getleadsim.Options{APIKey: key, Now: simtest.NewClock(t0).Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	state := testenv.State(t)
	bus := testenv.Bus(t)
	cons, err := bus.Consumer(ctx, "test", pipeline.Subject("lead", "getlead"))
	if err != nil {
		t.Fatal(err)
	}
	pub := &flakyPublisher{Publisher: bus}
	p, err := NewPoller(Config{V3: getlead.V3Config{BaseURL: srv.URL + "/api/v1", APIKey: key}, State: state, Publisher: pub,
		PerPage: perPage, MaxPages: maxPages, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{sim: sim, state: state, bus: bus, cons: cons, poller: p, pub: pub, t0: t0}
}

// seed adds n leads; lead i is created at t0 + at(i).
func (f *fixture) seed(from, n int, at func(i int) time.Duration) {
	for i := from; i < from+n; i++ {
		f.sim.SeedLead(getleadsim.LeadSeed{Name: fmt.Sprintf("Lead %02d", i), Phones: []string{fmt.Sprintf("+9198765%05d", i)},
			Custom: map[string]string{"Referred By": "ad"}, CreatedAt: f.t0.Add(at(i))})
	}
}

// received fetches everything on the bus so far.
func (f *fixture) received(t *testing.T) []pipeline.Event {
	t.Helper()
	return testenv.Drain(t, f.cons, 200*time.Millisecond)
}

func (f *fixture) cursor(t *testing.T) Cursor {
	t.Helper()
	raw, _, err := f.state.Cursor(context.Background(), "getlead.leads")
	if err != nil {
		t.Fatal(err)
	}
	var c Cursor
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func names(evs []pipeline.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Fields["name"]
	}
	return out
}

func TestPollPublishesEachNewLeadOnceInCreationOrder(t *testing.T) {
	ctx := context.Background()
	f := setup(t, 2, 10)
	// Leads 0–5 in three timestamps, two each: page boundaries fall inside
	// a timestamp.
	f.seed(0, 6, func(i int) time.Duration { return time.Duration(i/2) * time.Second })
	n, err := f.poller.Poll(ctx)
	if err != nil || n != 6 {
		t.Fatalf("first poll: %d, %v", n, err)
	}
	evs := f.received(t)
	if fmt.Sprint(names(evs)) != "[Lead 00 Lead 01 Lead 02 Lead 03 Lead 04 Lead 05]" {
		t.Fatalf("published %v", names(evs))
	}
	c := f.cursor(t)
	if !c.From.Equal(f.t0.Add(2*time.Second)) || len(c.Seen) != 2 {
		t.Fatalf("cursor %+v", c)
	}
	// Nothing new: nothing published. Then leads at the watermark second
	// and later arrive.
	if n, err := f.poller.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("idle poll: %d, %v", n, err)
	}
	f.seed(6, 3, func(i int) time.Duration { return time.Duration(i-4) * time.Second }) // 2s, 3s, 4s
	if n, err := f.poller.Poll(ctx); err != nil || n != 3 {
		t.Fatalf("third poll: %d, %v", n, err)
	}
	if got := names(f.received(t)); fmt.Sprint(got) != "[Lead 06 Lead 07 Lead 08]" {
		t.Fatalf("published %v", got)
	}
}

func TestPollEventsDecodeWithTheGetleadCodec(t *testing.T) {
	f := setup(t, 10, 1)
	f.sim.SeedLead(getleadsim.LeadSeed{Name: "Asha Rao", Email: "asha@example.com", Phones: []string{"+919876543210"}, Status: "Qualified",
		Custom: map[string]string{"budget": "10"}, CreatedAt: f.t0})
	if _, err := f.poller.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := f.received(t)
	if len(evs) != 1 || evs[0].Vendor != "getlead" || evs[0].ExternalID == "" {
		t.Fatalf("events %+v", evs)
	}
	cat, _ := mappings.NewCatalog([]mappings.CatalogField{{Name: "budget_inr", Getlead: "budget"}})
	l, err := mappings.GetleadLeads{Catalog: cat}.Decode(evs[0].Fields)
	if err != nil {
		t.Fatal(err)
	}
	want := mappings.Lead{mappings.FirstName: "Asha", mappings.LastName: "Rao", mappings.Email: "asha@example.com",
		mappings.MobilePhone: "+919876543210", mappings.LeadStatus: "Qualified", "budget_inr": "10"}
	if fmt.Sprint(l) != fmt.Sprint(want) {
		t.Fatalf("decoded %v\nwant %v", l, want)
	}
}

func TestCursorIsSavedOnlyAfterTheBusAcknowledged(t *testing.T) {
	ctx := context.Background()
	f := setup(t, 2, 10)
	f.seed(0, 5, func(i int) time.Duration { return time.Duration(i) * time.Second })
	// The bus fails from the start: nothing is saved.
	f.pub.fail.Store(true)
	if _, err := f.poller.Poll(ctx); err == nil {
		t.Fatal("want the publish failure")
	}
	if _, _, err := f.state.Cursor(ctx, "getlead.leads"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("cursor saved although nothing was published: %v", err)
	}
	f.pub.fail.Store(false)
	if n, err := f.poller.Poll(ctx); err != nil || n != 5 {
		t.Fatalf("%d %v", n, err)
	}
	if got := names(f.received(t)); len(got) != 5 {
		t.Fatalf("published %v", got)
	}
}

func TestPollIsBoundedAndResumes(t *testing.T) {
	ctx := context.Background()
	f := setup(t, 2, 2)
	f.seed(0, 7, func(i int) time.Duration { return time.Duration(i) * time.Second })
	for _, want := range []int{4, 3, 0} {
		if n, err := f.poller.Poll(ctx); err != nil || n != want {
			t.Fatalf("poll published %d (%v), want %d", n, err, want)
		}
	}
	if got := f.received(t); len(got) != 7 {
		t.Fatalf("%d events", len(got))
	}
}

func TestRateLimitedPollReturnsRetryAfter(t *testing.T) {
	f := setup(t, 2, 2)
	f.sim.Script("leads.list", getleadsim.Fault429)
	_, err := f.poller.Poll(context.Background())
	var ge *getlead.Error
	if !errors.As(err, &ge) || ge.RetryAfter != getleadsim.ScriptedRetryAfter*time.Second {
		t.Fatalf("%v", err)
	}
}

func TestRunPollsUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := setup(t, 50, 10)
	f.seed(0, 3, func(i int) time.Duration { return 0 })
	done := make(chan error, 1)
	go func() { done <- f.poller.Run(ctx) }()
	testenv.Eventually(t, "run to poll", func() bool {
		raw, _, err := f.state.Cursor(context.Background(), "getlead.leads")
		if err == nil && len(raw) > 0 {
			var c Cursor
			if json.Unmarshal([]byte(raw), &c) == nil && len(c.Seen) == 3 {
				return true
			}
		}
		return false
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := f.received(t); len(got) != 3 {
		t.Fatalf("%d events", len(got))
	}
}

func TestCorruptCursorStopsRun(t *testing.T) {
	f := setup(t, 2, 2)
	ctx := context.Background()
	if err := f.state.SetCursor(ctx, "getlead.leads", "not json"); err != nil {
		t.Fatal(err)
	}
	if err := f.poller.Run(ctx); err == nil {
		t.Fatal("want an error for an unreadable cursor")
	}
}

var _ pipeline.Source = (*Poller)(nil)
