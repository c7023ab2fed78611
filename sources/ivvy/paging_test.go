package ivvy

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

// leadPageGate runs a function once, just before the n-th getLeadList
// request it sees after being armed: a change made in iVvy between two page
// requests of one window.
type leadPageGate struct {
	mu   sync.Mutex
	left int
	run  func()
}

func (g *leadPageGate) arm(n int, run func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.left, g.run = n, run
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
				if g.left--; g.left == 0 {
					g.run()
					g.run = nil
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
			e := newEnvBehind(t, ivvysim.Options{IgnoreLeadFilters: ignore}, nil, gate.front)
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
			if _, err := e.p.Poll(ctx); err != nil {
				t.Fatal(err)
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
