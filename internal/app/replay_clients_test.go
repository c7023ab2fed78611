package app

import (
	"context"
	"strconv"
	"testing"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// TestReplayClientsWritesOnlyWhatDrifted replays a client route, each way
// between SharpSpring and LeadExec: over unchanged history it writes
// nothing (no write request reaches the target, fields the target cannot
// report included); a client edited in the target shows as exactly that
// field in a dry run, which writes nothing; the replay then writes it back
// with one request, and a further replay finds nothing.
func TestReplayClientsWritesOnlyWhatDrifted(t *testing.T) {
	t.Parallel()
	// Default client fields of the LeadExec simulator, by SpecialBit.
	const fCompany, fEmail, fPhone, fCity, fState = 1001, 1004, 1005, 1007, 1008

	type drift struct {
		targetID     string
		field        string
		edited, want string
		current      func() string // the field's value in the target now
	}
	cases := []struct {
		name, route, from, to string
		clients               int
		// seed makes the source's clients and waits until the target has
		// them all.
		seed func(w *leWorld)
		// writes counts the target's write requests.
		writes func(w *leWorld) int
		// edit changes one client directly in the target.
		edit func(w *leWorld) drift
	}{{
		name: "leadexec to sharpspring", route: "le-ss-clients", from: "leadexec.client", to: "sharpspring.client", clients: 3,
		seed: func(w *leWorld) {
			for i, city := range []string{"Dallas", "Austin", "Waco"} {
				n := strconv.Itoa(i)
				w.le.AddClient(leadexecsim.Client{Username: "buyer" + n, Fields: map[int64]string{fCompany: "Buyer " + n,
					fPhone: "+1 214 555 010" + n, fEmail: "ops" + n + "@buyer.example", fCity: city, fState: "TX"}})
			}
			w.wait("the clients in SharpSpring", func() bool { return len(w.ss.Clients()) == 3 })
		},
		writes: func(w *leWorld) int {
			s := w.ss.Stats().ByMethod
			return s["createClient"] + s["updateClient"] + s["updateAccountSendLimit"] + s["enableAccountSending"] + s["disableAccountSending"]
		},
		edit: func(w *leWorld) drift {
			c := ssClientByName(w, "Buyer 1")
			w.ss.SetClientFields(c.ID, map[string]string{"city": "Houston"})
			return drift{targetID: strconv.FormatInt(c.ID, 10), field: "city", edited: "Houston", want: "Austin",
				current: func() string { return ssClientByName(w, "Buyer 1").Fields["city"] }}
		},
	}, {
		name: "sharpspring to leadexec", route: "ss-le-clients", from: "sharpspring.client", to: "leadexec.client", clients: 3,
		seed: func(w *leWorld) {
			for i, city := range []string{"Austin", "Dallas", "Waco"} {
				n := strconv.Itoa(i)
				w.ss.SeedClient("", map[string]string{"companyName": "Agency " + n, "salesPhone": "+1 512 555 010" + n,
					"streetAddress": n + " Main St", "city": city, "state": "TX", "zipCode": "7330" + n, "country": "US"})
			}
			w.wait("the clients in LeadExec", func() bool { return len(w.le.Clients()) == 3 })
		},
		writes: func(w *leWorld) int { return w.le.RequestCount(leadexecsim.EndpointEditClient) },
		edit: func(w *leWorld) drift {
			c := leClientByUsername(w, "crmsync-agency-1")
			if err := w.le.SetClientField(c.ClientUID, fCity, "Houston"); err != nil {
				w.t.Fatal(err)
			}
			return drift{targetID: strconv.FormatInt(c.ClientUID, 10), field: "City", edited: "Houston", want: "Dallas",
				current: func() string { return leClientByUsername(w, "crmsync-agency-1").Fields[fCity] }}
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := newLEWorld(t, []config.RouteConfig{{Name: tc.route, From: tc.from, To: tc.to}}, nil)
			tc.seed(w)
			w.wait("the route settled", func() bool { return w.settled(tc.route) })

			off, bus := openOffline(t, w.cfg)

			// From sequence 1, nothing changed: nothing to write.
			before := tc.writes(w)
			sum, err := off.Replay(ctx, bus, ReplayOptions{Route: tc.route, FromSeq: 1})
			if err != nil || sum.Events != tc.clients || sum.Records != tc.clients || sum.Changed != 0 || sum.Written != 0 || sum.Dead != 0 {
				t.Fatalf("replay of unchanged history: %+v, %v", sum, err)
			}
			if n := tc.writes(w); n != before {
				t.Fatalf("replay of unchanged history sent %d write requests", n-before)
			}

			// A client is edited directly in the target. The dry run shows
			// exactly that field, and writes nothing.
			d := tc.edit(w)
			sum, err = off.Replay(ctx, bus, ReplayOptions{Route: tc.route, FromSeq: 1, DryRun: true})
			if err != nil || sum.Changed != 1 || len(sum.Diffs) != 1 || sum.Written != 0 {
				t.Fatalf("dry run: %+v, %v", sum, err)
			}
			got := sum.Diffs[0]
			if got.TargetID != d.targetID || got.Missing || len(got.Fields) != 1 || got.Fields[d.field] != [2]string{d.edited, d.want} {
				t.Fatalf("dry-run diff = %+v, want %s %q → %q on %s", got, d.field, d.edited, d.want, d.targetID)
			}
			if n := tc.writes(w); n != before {
				t.Fatalf("the dry run sent %d write requests", n-before)
			}
			if v := d.current(); v != d.edited {
				t.Fatalf("after the dry run the target holds %q", v)
			}

			// The replay writes it back, with one request.
			sum, err = off.Replay(ctx, bus, ReplayOptions{Route: tc.route, FromSeq: 1})
			if err != nil || sum.Changed != 1 || sum.Written != 1 || sum.Dead != 0 {
				t.Fatalf("replay: %+v, %v", sum, err)
			}
			if n := tc.writes(w); n != before+1 {
				t.Fatalf("the replay sent %d write requests, want 1", n-before)
			}
			if v := d.current(); v != d.want {
				t.Fatalf("after the replay the target holds %q, want %q", v, d.want)
			}

			// Nothing is left to write.
			sum, err = off.Replay(ctx, bus, ReplayOptions{Route: tc.route, FromSeq: 1})
			if err != nil || sum.Changed != 0 || sum.Written != 0 || tc.writes(w) != before+1 {
				t.Fatalf("second replay: %+v, %v", sum, err)
			}
		})
	}
}

func ssClientByName(w *leWorld, company string) sharpspringsim.Client {
	w.t.Helper()
	for _, c := range w.ss.Clients() {
		if c.Fields["companyName"] == company {
			return c
		}
	}
	w.t.Fatalf("SharpSpring has no client %q", company)
	return sharpspringsim.Client{}
}

func leClientByUsername(w *leWorld, username string) leadexecsim.Client {
	w.t.Helper()
	for _, c := range w.le.Clients() {
		if c.Username == username {
			return c
		}
	}
	w.t.Fatalf("LeadExec has no client %q", username)
	return leadexecsim.Client{}
}
