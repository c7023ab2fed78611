package ivvy

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

// leadPageGate runs a function just before the n-th getLeadList request it
// sees after being armed (arm), or before each one (every): a change made
// in iVvy between two page requests of one window.
type leadPageGate struct {
	action string // "" = getLeadList
	mu     sync.Mutex
	left   int
	repeat bool
	run    func()
}

func (g *leadPageGate) arm(n int, run func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.left, g.run, g.repeat = n, run, false
}

// every runs run before each getLeadList request; nil stops.
func (g *leadPageGate) every(run func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.left, g.run, g.repeat = 1, run, run != nil
}

// fired reports whether the armed function ran.
func (g *leadPageGate) fired() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.run == nil
}

func (g *leadPageGate) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("action") == cmp.Or(g.action, "getLeadList") {
			g.mu.Lock()
			if g.run != nil {
				if g.left--; g.left <= 0 {
					g.run()
					if !g.repeat {
						g.run = nil
					}
				}
			}
			g.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// seedPolledThenEdited seeds n leads, polls two windows (the second finds
// out whether iVvy honours the lead filter), drains what they published,
// then edits each lead at its own second, and returns the leads' ids.
func (e *env) seedPolledThenEdited(t *testing.T, n int) []int64 {
	t.Helper()
	ids := e.seed(n)
	for range 2 {
		e.clk.Add(time.Second)
		if _, err := e.p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	e.drain(t)
	for _, id := range ids {
		e.clk.Add(time.Second)
		e.sim.EditLead(id, func(l *ivvysim.Lead) { l.Description = "edited" })
	}
	return ids
}

// TestLeadDeletedWhileAWindowIsPagedSkipsNoOther: a lead deleted in iVvy
// after the poller read its page shifts every later lead of the list down
// by one; the poller must still read the lead that crossed the page
// boundary, whose modifiedDate is below the watermark the window reaches,
// so no later window would read it again.
func TestLeadDeletedWhileAWindowIsPagedSkipsNoOther(t *testing.T) {
	inBothFilterModes(t, func(t *testing.T, e *env, gate *leadPageGate, ignore bool) {
		ctx := context.Background()
		// Two leads a page; each lead edited at its own second: once the
		// window is read, its watermark is the last lead's second, past
		// every other.
		ids := e.seedPolledThenEdited(t, 5)
		gate.arm(2, func() { e.sim.DeleteLead(ids[0]) })
		e.sim.ResetStats()
		if _, err := e.p.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		// Paged by id, the deletion costs nothing: a page per two
		// leads, as without it.
		if n := e.sim.Stats().ByAction["crm.getLeadList"]; !ignore && n != 3 {
			t.Errorf("%d lead pages for five leads two a page, want 3", n)
		}
		if !gate.fired() {
			t.Fatal("the window was read in one page: nothing was deleted between pages")
		}
		if _, ok := e.sim.LeadByID(ids[0]); ok {
			t.Fatal("lead not deleted")
		}
		got := map[string]bool{}
		for _, ev := range e.drain(t) {
			got[ev.ExternalID] = true
		}
		for _, id := range ids[1:] {
			if !got[itoa(id)] {
				t.Errorf("lead %d, edited in the window, was never published (published %v)", id, got)
			}
		}
	})
}

// TestALeadEditedWhileAWindowIsPagedIsReadByTheNext: a lead edited in
// iVvy after the poller read its page is stamped later than that read, but
// may be stamped earlier than a lead on a later page edited after it. The
// window's watermark stays low enough that the next window reads the first
// lead again (full-size model test, seed 148: an iVvy budget edited while
// a busy window was paged never reached SharpSpring).
func TestALeadEditedWhileAWindowIsPagedIsReadByTheNext(t *testing.T) {
	inBothFilterModes(t, func(t *testing.T, e *env, gate *leadPageGate, _ bool) {
		ids := e.seedPolledThenEdited(t, 5)
		// Before the second page: the first lead (read on the first
		// page) is edited again, and a second later the last lead.
		gate.arm(2, func() {
			e.clk.Add(time.Second)
			e.sim.EditLead(ids[0], func(l *ivvysim.Lead) { l.Description = "edited again" })
			e.clk.Add(time.Second)
			e.sim.EditLead(ids[4], func(l *ivvysim.Lead) { l.Description = "edited again" })
		})
		// The edit is published by this window (where the list is not
		// in id order, it moved past the pages read) or by the next.
		var again []string
		for _, ev := range e.twoWindowsAcross(t, gate) {
			if ev.Fields["description"] == "edited again" {
				again = append(again, ev.ExternalID)
			}
		}
		if !slices.Contains(again, itoa(ids[0])) {
			t.Fatalf("lead %d, edited again after its page was read, was never published with the edit (published with it: %v)", ids[0], again)
		}
	})
}

// TestAContactEditedWhileAWindowIsPagedIsReadByTheNext: as above, for the
// contact list, which is paged too: a contact edited after its page was
// read is read by the next window, and its lead published with the edit.
func TestAContactEditedWhileAWindowIsPagedIsReadByTheNext(t *testing.T) {
	ctx := context.Background()
	gate := &leadPageGate{action: "getContactList"}
	e := newEnvBehind(t, ivvysim.Options{LeadFilters: ivvysim.LeadFiltersHonoured}, nil, gate.front)
	ids := e.seed(5)
	contacts := make([]int64, len(ids))
	for i, id := range ids {
		l, _ := e.sim.LeadByID(id)
		contacts[i] = l.ContactID
	}
	for range 2 {
		e.clk.Add(time.Second)
		if _, err := e.p.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.drain(t)
	// The leads' second is over: the next windows read no lead again,
	// only the contacts changed since.
	e.clk.Add(10 * time.Minute)
	for _, c := range contacts {
		e.clk.Add(time.Second)
		e.sim.EditContact(c, func(c *ivvysim.Contact) { c.FirstName = "Edited" })
	}
	// Before the second contact page: the first contact (read on the
	// first page) is edited again, and a second later the last one.
	gate.arm(2, func() {
		e.clk.Add(time.Second)
		e.sim.EditContact(contacts[0], func(c *ivvysim.Contact) { c.FirstName = "Again" })
		e.clk.Add(time.Second)
		e.sim.EditContact(contacts[4], func(c *ivvysim.Contact) { c.FirstName = "Again" })
	})
	got := map[string]string{} // lead → the newest first name published
	for _, ev := range e.twoWindowsAcross(t, gate) {
		got[ev.ExternalID] = ev.Fields["contact.firstName"]
	}
	for i, id := range ids {
		want := "Edited"
		if i == 0 || i == 4 {
			want = "Again"
		}
		if got[itoa(id)] != want {
			t.Errorf("lead %d: published with first name %q, want %q (published %v)", id, got[itoa(id)], want, got)
		}
	}
}

// twoWindowsAcross polls a window, whose paging the armed gate interrupts,
// and the window after it, and returns what both published.
func (e *env) twoWindowsAcross(t *testing.T, gate *leadPageGate) []pipeline.Event {
	t.Helper()
	if _, err := e.p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !gate.fired() {
		t.Fatal("the list was read in one page: nothing was edited between pages")
	}
	published := e.drain(t)
	e.clk.Add(time.Second)
	if _, err := e.p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	return append(published, e.drain(t)...)
}

// TestAListThatKeepsShiftingFailsThePollAndKeepsTheCursor: where leads can
// only be paged by offset, a list that shifts under every read fails the
// poll after a few fresh starts instead of publishing a window with a hole;
// the cursor stays, so the next poll reads the window whole.
func TestAListThatKeepsShiftingFailsThePollAndKeepsTheCursor(t *testing.T) {
	ctx := context.Background()
	gate := &leadPageGate{}
	e := newEnvBehind(t, ivvysim.Options{IgnoreLeadFilters: true}, nil, gate.front)
	ids := e.seedPolledThenEdited(t, 20)
	before, _, err := e.state.Cursor(ctx, "ivvy.lead")
	if err != nil {
		t.Fatal(err)
	}
	// The lowest lead left is deleted before every page request.
	deleted := map[int64]bool{}
	gate.every(func() {
		for _, id := range ids {
			if !deleted[id] {
				deleted[id] = true
				e.sim.DeleteLead(id)
				return
			}
		}
	})
	if _, err := e.p.Poll(ctx); !errors.Is(err, errListShifted) {
		t.Fatalf("poll over a list shifting under every page: %v, want errListShifted", err)
	}
	gate.every(nil)
	if after, _, err := e.state.Cursor(ctx, "ivvy.lead"); err != nil || after != before {
		t.Fatalf("cursor moved: %q → %q (%v)", before, after, err)
	}
	if len(deleted) >= len(ids) {
		t.Fatalf("every lead was deleted (%d)", len(deleted))
	}
	if _, err := e.p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, ev := range e.drain(t) {
		got[ev.ExternalID] = true
	}
	for _, id := range ids {
		if !deleted[id] && !got[itoa(id)] {
			t.Errorf("lead %d, edited in the window, was never published", id)
		}
	}
}

// refuseContactFilter answers a getLeadList filtered by contactId as iVvy
// answers a parameter that failed validation, and counts the refusals.
type refuseContactFilter struct{ n atomic.Int64 }

func (f *refuseContactFilter) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.URL.Query().Get("action") == "getLeadList" && bytes.Contains(body, []byte(`"contactId"`)) {
			f.n.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"errorCode":400,"message":"'filter' failed validation","specificCode":23016,"additionalMessages":["unknown filter \"contactId\""]}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestRefusedContactFilterReadsTheListInstead: where iVvy honours the
// modifiedDate filter but refuses contactId, the lead of a changed contact
// is found by reading the whole list; contactId is not sent again.
func TestRefusedContactFilterReadsTheListInstead(t *testing.T) {
	ctx := context.Background()
	f := &refuseContactFilter{}
	e := newEnvBehind(t, ivvysim.Options{LeadFilters: ivvysim.LeadFiltersHonoured}, nil, f.front)
	ids := e.seed(5)
	if _, err := e.p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	e.clk.Add(settleAfter + time.Second) // the leads' second is over: polls read changes only
	for round, id := range ids[1:3] {
		e.clk.Add(time.Minute)
		l, _ := e.sim.LeadByID(id)
		e.sim.EditContact(l.ContactID, func(c *ivvysim.Contact) { c.Phone = fmt.Sprint("555-010", round) })
		n, err := e.p.Poll(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		evs := e.drain(t)
		if n != 1 || len(evs) != 1 || evs[0].ExternalID != itoa(id) || evs[0].Fields["contact.phone"] != fmt.Sprint("555-010", round) {
			t.Fatalf("round %d: published %d, bus %v; want lead %d with the new phone", round, n, evs, id)
		}
	}
	if got := f.n.Load(); got != 1 {
		t.Fatalf("contactId sent and refused %d times, want once", got)
	}
}

// inBothFilterModes runs test with iVvy honouring the lead list's date
// filter and again with iVvy ignoring it (the poller's scan fallback), each
// time with a poller whose lead list requests pass through a fresh gate.
func inBothFilterModes(t *testing.T, test func(t *testing.T, e *env, gate *leadPageGate, ignored bool)) {
	for _, mode := range []struct {
		name   string
		ignore bool
	}{{"filter honoured", false}, {"filter ignored: scan fallback", true}} {
		t.Run(mode.name, func(t *testing.T) {
			gate := &leadPageGate{}
			e := newEnvBehind(t, ivvysim.Options{IgnoreLeadFilters: mode.ignore, LeadFilters: ivvysim.LeadFiltersHonoured}, nil, gate.front)
			test(t, e, gate, mode.ignore)
		})
	}
}
