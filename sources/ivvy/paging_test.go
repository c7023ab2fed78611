package ivvy

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

// leadPageGate runs a function just before the n-th getLeadList request it
// sees after being armed (arm), or before each one (every): a change made
// in iVvy between two page requests of one window.
type leadPageGate struct {
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
		if r.URL.Query().Get("action") == "getLeadList" {
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

// TestLeadDeletedWhileAWindowIsPagedSkipsNoOther: a lead deleted in iVvy
// after the poller read its page shifts every later lead of the list down
// by one; the poller must still read the lead that crossed the page
// boundary, whose modifiedDate is below the watermark the window reaches,
// so no later window would read it again.
func TestLeadDeletedWhileAWindowIsPagedSkipsNoOther(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		name := "filter honoured"
		if ignore {
			name = "filter ignored: scan fallback"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			gate := &leadPageGate{}
			e := newEnvBehind(t, ivvysim.Options{IgnoreLeadFilters: ignore, LeadFilters: ivvysim.LeadFiltersHonoured}, nil, gate.front)
			ids := e.seed(5) // two leads a page
			for range 2 {    // the second window finds out whether the filter is honoured
				e.clk.Add(time.Second)
				if _, err := e.p.Poll(ctx); err != nil {
					t.Fatal(err)
				}
			}
			e.drain(t)

			// Each lead edited at its own second: once the window is read,
			// its watermark is the last lead's second, past every other.
			for _, id := range ids {
				e.clk.Add(time.Second)
				e.sim.EditLead(id, func(l *ivvysim.Lead) { l.Description = "edited" })
			}
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
}

// TestAListThatKeepsShiftingFailsThePollAndKeepsTheCursor: where leads can
// only be paged by offset, a list that shifts under every read fails the
// poll after a few fresh starts instead of publishing a window with a hole;
// the cursor stays, so the next poll reads the window whole.
func TestAListThatKeepsShiftingFailsThePollAndKeepsTheCursor(t *testing.T) {
	ctx := context.Background()
	gate := &leadPageGate{}
	e := newEnvBehind(t, ivvysim.Options{IgnoreLeadFilters: true}, nil, gate.front)
	ids := e.seed(20)
	for range 2 {
		e.clk.Add(time.Second)
		if _, err := e.p.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.drain(t)
	for _, id := range ids {
		e.clk.Add(time.Second)
		e.sim.EditLead(id, func(l *ivvysim.Lead) { l.Description = "edited" })
	}
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
