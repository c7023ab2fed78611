package ivvy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit/simtest"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/natsbus"
	"github.com/crmsync/crmsync/vendors/ivvy"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

// newSim starts a simulator on a test clock, served behind front (nil:
// directly), and returns it with the clock and a client of it.
func newSim(t *testing.T, opts ivvysim.Options, front func(http.Handler) http.Handler) (*ivvysim.Server, *simtest.Clock, *ivvy.Client) {
	t.Helper()
	clk := simtest.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	opts.Now = clk.Now
	sim := ivvysim.New(opts)
	var h http.Handler = sim
	if front != nil {
		h = front(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { sim.Close(); srv.Close() })
	c, err := ivvy.New(ivvy.Config{Endpoint: srv.URL, APIKey: ivvysim.DefaultKey, APISecret: ivvysim.DefaultSecret, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return sim, clk, c
}

type env struct {
	sim   *ivvysim.Server
	clk   *simtest.Clock
	bus   *natsbus.Bus
	state *checkpoints.Store
	cons  pipeline.Consumer
	p     *LeadPoller
}

func newEnv(t *testing.T, opts ivvysim.Options, pub func(pipeline.Publisher) pipeline.Publisher) *env {
	t.Helper()
	return newEnvBehind(t, opts, pub, nil)
}

// newEnvBehind is newEnv with the simulator served behind front (nil:
// directly), which sees every request before the simulator does.
func newEnvBehind(t *testing.T, opts ivvysim.Options, pub func(pipeline.Publisher) pipeline.Publisher,
	front func(http.Handler) http.Handler) *env {
	t.Helper()
	ctx := context.Background()
	sim, clk, c := newSim(t, opts, front)
	bus := testenv.Bus(t)
	state := testenv.State(t)
	cons, err := bus.Consumer(ctx, "test", pipeline.Subject("lead", "ivvy"))
	if err != nil {
		t.Fatal(err)
	}
	var publisher pipeline.Publisher = bus
	if pub != nil {
		publisher = pub(bus)
	}
	p, err := NewLeadPoller(Config{Client: c, Publisher: publisher, State: state, PerPage: 2, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, clk: clk, bus: bus, state: state, cons: cons, p: p}
}

func (e *env) seed(n int) []int64 {
	var ids []int64
	for i := range n {
		cid := e.sim.SeedContact(ivvysim.Contact{FirstName: "F", LastName: string(rune('A' + i)), Email: string(rune('a'+i)) + "@example.com"})
		ids = append(ids, e.sim.SeedLead(ivvysim.Lead{Name: "L", SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1,
			ContactID: cid, CustomFields: map[int64]string{101: "teal"}}))
	}
	return ids
}

// drain returns the external ids of the events on the bus, acking them.
func (e *env) drain(t *testing.T) []pipeline.Event {
	t.Helper()
	out := testenv.Drain(t, e.cons, 200*time.Millisecond)
	sort.Slice(out, func(i, j int) bool { return out[i].ExternalID < out[j].ExternalID })
	return out
}

func TestPollerPublishesChanges(t *testing.T) {
	for _, mode := range []ivvysim.LeadFilterMode{ivvysim.LeadFiltersHonoured, ivvysim.LeadFiltersIgnored, ivvysim.LeadFiltersRefused} {
		name := map[ivvysim.LeadFilterMode]string{ivvysim.LeadFiltersHonoured: "filter honoured",
			ivvysim.LeadFiltersIgnored: "filter ignored: scan fallback", ivvysim.LeadFiltersRefused: "filter refused: scan fallback"}[mode]
		ignore := mode != ivvysim.LeadFiltersHonoured
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, ivvysim.Options{LeadFilters: mode}, nil)
			ids := e.seed(5)
			steps := []struct {
				name  string
				act   func()
				wants int
			}{
				{"first window publishes everything", func() {}, 5},
				{"nothing changed", func() {}, 0},
				{"a lead edited in iVvy", func() {
					e.clk.Add(time.Minute)
					e.sim.EditLead(ids[3], func(l *ivvysim.Lead) { l.CustomFields[101] = "red" })
				}, 1},
				{"a lead edited in the same second as the cursor", func() {
					e.sim.EditLead(ids[1], func(l *ivvysim.Lead) { l.Description = "same second" })
				}, 1},
				{"a contact edited in iVvy", func() {
					e.clk.Add(time.Minute)
					l, _ := e.sim.LeadByID(ids[0])
					e.sim.EditContact(l.ContactID, func(c *ivvysim.Contact) { c.Phone = "555" })
				}, 1},
				{"saved without a change", func() {
					e.clk.Add(time.Minute)
					e.sim.EditLead(ids[2], func(*ivvysim.Lead) {})
				}, 0},
			}
			for _, st := range steps {
				st.act()
				n, err := e.p.Poll(ctx)
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				evs := e.drain(t)
				if n != st.wants || len(evs) != st.wants {
					t.Fatalf("%s: published %d, bus has %d, want %d", st.name, n, len(evs), st.wants)
				}
			}
			if ignore && e.sim.Stats().ByAction["crm.getLeadList"] == 0 {
				t.Fatal("no lead reads")
			}
		})
	}
}

func TestEventCarriesLeadAndContactFields(t *testing.T) {
	e := newEnv(t, ivvysim.Options{}, nil)
	ids := e.seed(1)
	if _, err := e.p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := e.drain(t)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	f := ev.Fields
	if ev.ExternalID != itoa(ids[0]) || f["contact.email"] != "a@example.com" || f["customFields.101"] != "teal" ||
		f["stageName"] != "New" || ev.Version != "2026-05-01 12:00:00" || !ev.ChangedAt.Equal(e.clk.Now()) {
		t.Fatalf("event %+v", ev)
	}
}

type failingPublisher struct {
	pipeline.Publisher
	mu   sync.Mutex
	left int
}

func (f *failingPublisher) Publish(ctx context.Context, ev pipeline.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.left == 0 {
		return errors.New("bus unavailable")
	}
	f.left--
	return f.Publisher.Publish(ctx, ev)
}

func TestCursorSavedOnlyAfterEveryEventWasPublished(t *testing.T) {
	ctx := context.Background()
	var fp *failingPublisher
	e := newEnv(t, ivvysim.Options{}, func(p pipeline.Publisher) pipeline.Publisher {
		fp = &failingPublisher{Publisher: p, left: 2}
		return fp
	})
	e.seed(4)
	if _, err := e.p.Poll(ctx); err == nil {
		t.Fatal("poll with a failing bus succeeded")
	}
	if cur, _, err := e.state.Cursor(ctx, "ivvy.lead"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("cursor saved: %q %v", cur, err)
	}
	fp.mu.Lock()
	fp.left = -1 // unlimited
	fp.mu.Unlock()
	n, err := e.p.Poll(ctx)
	if err != nil || n != 2 {
		t.Fatalf("second poll: %d %v", n, err)
	}
	if evs := e.drain(t); len(evs) != 4 {
		t.Fatalf("%d events", len(evs))
	}
	if cur, _, err := e.state.Cursor(ctx, "ivvy.lead"); err != nil || cur == "" {
		t.Fatalf("cursor %q %v", cur, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestPollerStartsAtSince: with Since set and no cursor saved, the first
// poll leaves older history alone (that is backfill's job) and publishes
// what changed from Since on.
func TestPollerStartsAtSince(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, ivvysim.Options{}, nil)
	ids := e.seed(3)
	e.clk.Add(time.Hour)
	e.p.cfg.Since = e.clk.Now()
	if n, err := e.p.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("first poll published %d (err %v), want 0: history before since", n, err)
	}
	e.clk.Add(time.Minute)
	e.sim.EditLead(ids[1], func(l *ivvysim.Lead) { l.Description = "after since" })
	n, err := e.p.Poll(ctx)
	if err != nil || n != 1 {
		t.Fatalf("second poll published %d (err %v), want the one edit", n, err)
	}
	if evs := e.drain(t); len(evs) != 1 || evs[0].ExternalID != strconv.FormatInt(ids[1], 10) {
		t.Fatalf("events = %+v", evs)
	}
}

// poller returns a poller over e's simulator and state as the app builds
// it: 100 leads a page and the identity map to find a changed contact's
// lead.
func (e *env) poller(t *testing.T) *LeadPoller {
	t.Helper()
	p, err := NewLeadPoller(Config{Client: e.p.cfg.Client, Publisher: e.bus, State: e.state, Identity: e.state, PerPage: 100, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// cost polls once and returns what it published and the requests it made.
func (e *env) cost(t *testing.T, p *LeadPoller) (published int, st ivvysim.Stats) {
	t.Helper()
	e.sim.ResetStats()
	n, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n, e.sim.Stats()
}

// TestIdlePollCostIsFlat: a poll while nothing changes costs at most two
// requests (one lead page, one contact page) whatever the account size,
// and a change made within the newest second seen is still found. On an
// account whose records all share one second (an import), that second is
// read again, a page per 100 records, until it is over, never a lead read
// per contact; then polls cost two requests again.
func TestIdlePollCostIsFlat(t *testing.T) {
	testenv.SkipUnderRace(t)
	for _, size := range []int{500, 5000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			e := newEnv(t, ivvysim.Options{LeadFilters: ivvysim.LeadFiltersHonoured}, nil)
			ids := e.seedMany(size)
			p := e.poller(t)
			// idle polls k times, each publishing nothing for at most two
			// requests (one lead page, one contact page).
			idle := func(k int, when string) {
				t.Helper()
				for i := range k {
					if n, st := e.cost(t, p); n != 0 || st.Requests > 2 {
						t.Fatalf("idle poll %d%s: published %d, %d requests %v; want 0 and ≤ 2", i, when, n, st.Requests, st.ByAction)
					}
				}
			}
			if n, _ := e.cost(t, p); n != size {
				t.Fatalf("first window published %d, want %d", n, size)
			}
			pages := (size + 99) / 100
			for i := range 3 {
				n, st := e.cost(t, p)
				if n != 0 || st.Requests != 2*pages || st.ByAction["crm.getLeadList"] != pages {
					t.Fatalf("idle poll %d within the import's second: published %d, %d requests %v; want 0 and a page per 100 records (%d)",
						i, n, st.Requests, st.ByAction, 2*pages)
				}
			}
			e.clk.Add(settleAfter + time.Second)
			idle(3, " after the import's second")

			// Many contacts edited in one second, their leads unchanged (a
			// bulk contact update): published once, and then not read as
			// changed on every poll while their second is the newest.
			e.clk.Add(time.Minute)
			for _, id := range ids[10:100] {
				l, _ := e.sim.LeadByID(id)
				e.sim.EditContact(l.ContactID, func(c *ivvysim.Contact) { c.Phone = "555-0100" })
			}
			if n, _ := e.cost(t, p); n != 90 {
				t.Fatalf("bulk contact edit: published %d, want 90", n)
			}
			idle(3, " within the bulk edit's second")

			// One lead and one contact change at a newer second.
			e.clk.Add(time.Minute)
			e.sim.EditLead(ids[1], func(l *ivvysim.Lead) { l.Description = "new" })
			l, _ := e.sim.LeadByID(ids[2])
			e.sim.EditContact(l.ContactID, func(c *ivvysim.Contact) { c.Phone = "555-0101" })
			if n, _ := e.cost(t, p); n != 2 {
				t.Fatalf("published %d, want the lead and the contact's lead", n)
			}
			idle(3, " within the change's second")
			// The same contact and lead change again within that second.
			e.sim.EditContact(l.ContactID, func(c *ivvysim.Contact) { c.Phone = "555-0102" })
			e.sim.EditLead(ids[1], func(l *ivvysim.Lead) { l.Description = "newer" })
			if n, _ := e.cost(t, p); n != 2 {
				t.Fatalf("changes within the watermark second: published %d, want 2", n)
			}
			e.clk.Add(settleAfter + time.Second)
			idle(2, "")
		})
	}
}

// TestContactEditFindsItsLeadThroughTheIdentityMap: once a route has linked
// a lead's contact (the keys its mapper gives), a contact edit is published
// as that lead's contact fields without a lead read (getLeadList by the
// undocumented contactId filter, or the whole list where that filter is
// ignored): the poll costs its two pages.
func TestContactEditFindsItsLeadThroughTheIdentityMap(t *testing.T) {
	testenv.SkipUnderRace(t)
	for _, size := range []int{500, 5000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, ivvysim.Options{LeadFilters: ivvysim.LeadFiltersHonoured}, nil)
			ids := e.seedMany(size)
			p := e.poller(t)
			if _, err := p.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			route := mappings.LeadRoute{From: mappings.IVvyLeads{}, To: mappings.SharpSpringLeads{}}
			var keys [][]pipeline.Key
			for _, ev := range e.drain(t) {
				mp, err := route.Map(ev)
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, mp.Keys)
			}
			if _, err := e.state.ResolveAll(ctx, keys); err != nil {
				t.Fatal(err)
			}
			e.clk.Add(settleAfter + time.Minute)
			l, _ := e.sim.LeadByID(ids[size/2])
			e.sim.EditContact(l.ContactID, func(c *ivvysim.Contact) { c.LastName = "Moved" })
			n, st := e.cost(t, p)
			if n != 1 || st.Requests > 2 {
				t.Fatalf("contact edit: published %d with %d requests %v; want 1 with ≤ 2", n, st.Requests, st.ByAction)
			}
			evs := e.drain(t)
			if len(evs) != 1 || evs[0].ExternalID != itoa(ids[size/2]) || evs[0].Fields["contact.lastName"] != "Moved" {
				t.Fatalf("events %+v", evs)
			}
			if _, ok := evs[0].Fields["description"]; ok {
				t.Fatalf("the lead's own fields were published with its contact's: %v", evs[0].Fields)
			}
		})
	}
}

// seedMany stores n leads, each with its own contact, in one second.
func (e *env) seedMany(n int) []int64 {
	ids := make([]int64, n)
	for i := range n {
		cid := e.sim.SeedContact(ivvysim.Contact{FirstName: "F", LastName: "L" + strconv.Itoa(i), Email: "p" + strconv.Itoa(i) + "@example.com"})
		ids[i] = e.sim.SeedLead(ivvysim.Lead{Name: "L", SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
	}
	return ids
}

// TestRefusedLeadFilterFallsBackToScanning: iVvy documents no getLeadList
// filter, so it may refuse modifiedDate__GREATERTHAN with an error answer.
// The poller then reads the whole list without it, compares modifiedDate
// itself and goes on polling: a lead created after the first window and one
// edited later are both published. The refused filter is tried once per
// process, so every later poll costs the list's pages and no more.
func TestRefusedLeadFilterFallsBackToScanning(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, ivvysim.Options{LeadFilters: ivvysim.LeadFiltersRefused}, nil)
	ids := e.seed(5)
	if n, err := e.p.Poll(ctx); err != nil || n != 5 {
		t.Fatalf("first window: published %d (%v), want 5", n, err)
	}
	e.drain(t)

	e.clk.Add(time.Minute)
	cid := e.sim.SeedContact(ivvysim.Contact{FirstName: "New", LastName: "Lead", Email: "new@example.com"})
	created := e.sim.SeedLead(ivvysim.Lead{Name: "L", SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
	e.sim.ResetStats()
	n, err := e.p.Poll(ctx)
	if err != nil {
		t.Fatalf("poll with the filter refused: %v", err)
	}
	evs := e.drain(t)
	if n != 1 || len(evs) != 1 || evs[0].ExternalID != itoa(created) {
		t.Fatalf("after a lead was created: published %d, bus %v; want lead %d only", n, evs, created)
	}
	st := e.sim.Stats()
	if st.BySpecific[ivvysim.CodeInvalidParameter] != 1 {
		t.Fatalf("the filter was refused %d times in the poll, want 1 (tried once)", st.BySpecific[ivvysim.CodeInvalidParameter])
	}

	// Six leads two a page, read by offset with one lead of overlap: five
	// pages per poll, plus the contact page.
	const pages = 5
	for i := range 3 {
		e.clk.Add(time.Minute)
		if i == 1 {
			e.sim.EditLead(ids[2], func(l *ivvysim.Lead) { l.Description = "edited later" })
		}
		e.sim.ResetStats()
		n, err := e.p.Poll(ctx)
		if err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		evs := e.drain(t)
		want := 0
		if i == 1 {
			want = 1
			if len(evs) != 1 || evs[0].ExternalID != itoa(ids[2]) || evs[0].Fields["description"] != "edited later" {
				t.Fatalf("poll %d after an edit: bus %v, want lead %d edited", i, evs, ids[2])
			}
		}
		if n != want || len(evs) != want {
			t.Fatalf("poll %d: published %d, bus has %d, want %d", i, n, len(evs), want)
		}
		st := e.sim.Stats()
		if st.BySpecific[ivvysim.CodeInvalidParameter] != 0 || st.ByAction["crm.getLeadList"] > pages {
			t.Fatalf("poll %d: %d refusals, %d lead pages (%v); want 0 refusals and at most %d pages",
				i, st.BySpecific[ivvysim.CodeInvalidParameter], st.ByAction["crm.getLeadList"], st.ByAction, pages)
		}
	}
}

// TestAContactEditedBetweenTheTwoListReadsIsPublished: a poll reads the
// lead list, then the contact list. A user edits a lead's contact between
// the two reads: the lead list shows the old name, the contact list the
// new one. The lead is published with the new name, once.
func TestAContactEditedBetweenTheTwoListReadsIsPublished(t *testing.T) {
	for _, filters := range []ivvysim.LeadFilterMode{ivvysim.LeadFiltersRefused, ivvysim.LeadFiltersHonoured} {
		t.Run(fmt.Sprint(filters), func(t *testing.T) {
			ctx := context.Background()
			var between func()
			e := newEnvBehind(t, ivvysim.Options{LeadFilters: filters}, nil, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if f := between; f != nil && strings.Contains(r.URL.RawQuery, "getContactList") {
						between = nil
						f()
					}
					next.ServeHTTP(w, r)
				})
			})
			other := e.seed(1)[0]
			cid := e.sim.SeedContact(ivvysim.Contact{FirstName: "Ann", LastName: "Lee", Email: "ann@example.com"})
			lead := e.sim.SeedLead(ivvysim.Lead{Name: "L", SourceID: 1, TypeID: 1, StageID: 1, QualityID: 1, IndustryID: 1, ContactID: cid})
			if n, err := e.p.Poll(ctx); err != nil || n != 2 {
				t.Fatalf("first window: published %d (%v), want 2", n, err)
			}
			e.drain(t)
			e.clk.Add(time.Minute)
			// Another lead's edit moves the leads' watermark past the
			// second of this lead, which is not read again.
			e.sim.EditLead(other, func(l *ivvysim.Lead) { l.Description = "edited" })
			between = func() {
				e.sim.EditContact(cid, func(c *ivvysim.Contact) { c.LastName = "Kim" })
			}
			if _, err := e.p.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			e.clk.Add(time.Minute)
			if _, err := e.p.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			evs := e.drain(t)
			var got []string
			for _, ev := range evs {
				if ev.ExternalID == itoa(lead) {
					got = append(got, ev.Fields[mappings.IVvyLastName])
				}
			}
			if len(got) == 0 || got[len(got)-1] != "Kim" {
				t.Fatalf("the contact edit made between the poll's two reads was not published: last names %q", got)
			}
		})
	}
}
