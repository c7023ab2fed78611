package scenario

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
)

// Default client fields of the LeadExec simulator, by SpecialBit.
const (
	leCompany = 1001
	lePhone   = 1005
	leEmail   = 1004
	leStreet  = 1006
	leCity    = 1007
	leState   = 1008
	leZip     = 1009
)

// missedDeliveries reads crmsync_leadexec_missed_deliveries_total from the
// pipeline's /metrics.
func missedDeliveries(ctx context.Context, p Pipeline) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.HookURL()+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "crmsync_leadexec_missed_deliveries_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("no crmsync_leadexec_missed_deliveries_total in /metrics")
}

// playSharpSpringLeads makes leads in SharpSpring (as its UI would: no API
// request) and checks that each reaches LeadExec once, with iVvy and
// Getlead holding them too; the iVvy edits that follow in Play may touch
// them, and LeadExec must still hold them once (LeadExec has no lead
// update: an edit is not posted again). It adds the leads to byEmail and
// returns them, in LeadExec's field names.
func (w *World) playSharpSpringLeads(ctx context.Context, p Pipeline, byEmail map[string]leadexecsim.Lead) ([]leadexecsim.Lead, error) {
	n := max(1, w.o.Leads/200)
	cat := w.catalog()
	var made []leadexecsim.Lead
	for i := range n {
		l := leadexecsim.Lead{UID: -int64(i + 1), Fields: map[string]string{
			"FirstName": "Sam", "LastName": fmt.Sprintf("Origin%d", i), "Email": fmt.Sprintf("ss-origin-%d@example.com", i),
			"PrimaryPhone": fmt.Sprintf("(737) 555-%04d", i), "City": "Austin", "State": "TX", "Zip": "73301",
		}}
		fields, err := wantSharpSpring(l, cat)
		if err != nil {
			return nil, err
		}
		w.SS.SeedLead(fields)
		made = append(made, l)
		byEmail[l.Fields["Email"]] = l
	}
	w.o.Say("%d leads are made in SharpSpring; waiting for LeadExec, iVvy and Getlead", n)
	inLeadExec := func() (ok bool, first string) {
		count := map[string][]leadexecsim.StoredLead{}
		for _, sl := range w.LE.Leads() {
			e := strings.ToLower(sl.Fields["Email"])
			count[e] = append(count[e], sl)
		}
		for _, l := range made {
			got := count[l.Fields["Email"]]
			if len(got) != 1 {
				return false, fmt.Sprintf("leadexec: %s is there %d times", l.Fields["Email"], len(got))
			}
			if got[0].Fields["LastName"] != l.Fields["LastName"] || got[0].Fields["PrimaryPhone"] != l.Fields["PrimaryPhone"] {
				return false, fmt.Sprintf("leadexec: %s holds %v", l.Fields["Email"], got[0].Fields)
			}
		}
		return true, ""
	}
	w.ssOriginCheck = inLeadExec
	if err := waitUntil(ctx, func() bool { ok, _ := inLeadExec(); return ok }); err != nil {
		_, why := inLeadExec()
		return nil, fmt.Errorf("waiting for LeadExec: %w (%s)", err, why)
	}
	if err := w.settle(ctx, p, byEmail); err != nil {
		return nil, fmt.Errorf("waiting for the SharpSpring leads: %w", err)
	}
	return made, nil
}

// playClients makes agency clients in SharpSpring and clients (buyers) in
// LeadExec, edits one on each side, and checks that both sides end up
// with the same clients and that nothing ping-pongs. It returns the
// number of clients on each side and how many client write requests came
// after the sides first agreed.
func (w *World) playClients(ctx context.Context, p Pipeline) (clients, late int, err error) {
	const n = 3
	for i := range n {
		w.SS.SeedClient(w.account, map[string]string{"companyName": fmt.Sprintf("Agency Client %d", i),
			"salesPhone": fmt.Sprintf("+1 512 555 01%02d", i), "streetAddress": fmt.Sprintf("%d Main St", i+1),
			"city": "Austin", "state": "TX", "zipCode": "73301", "country": "US"})
		w.LE.AddClient(leadexecsim.Client{Username: fmt.Sprintf("buyer%d", i), Fields: map[int64]string{
			leCompany: fmt.Sprintf("Buyer %d LLC", i), lePhone: fmt.Sprintf("+1 214 555 01%02d", i),
			leEmail: fmt.Sprintf("ops%d@buyer.example", i), leStreet: fmt.Sprintf("%d Elm St", i+1),
			leCity: "Dallas", leState: "TX", leZip: "75201"}})
	}
	w.o.Say("%d agency clients are made in SharpSpring and %d clients in LeadExec; waiting for both sides", n, n)
	same := func(want map[string]string) func() bool {
		return func() bool {
			if !p.Idle(ctx) {
				return false
			}
			return w.clientDiff(want) == ""
		}
	}
	if err := waitUntil(ctx, same(nil)); err != nil {
		return 0, 0, fmt.Errorf("waiting for the clients: %w (%s)", err, w.clientDiff(nil))
	}
	// An edit on each side overwrites the other.
	for _, c := range w.LE.Clients() {
		if c.Fields[leCompany] == "Agency Client 0" {
			w.LE.SetClientField(c.ClientUID, leCity, "Houston")
		}
	}
	for _, c := range w.SS.Clients() {
		if c.Fields["companyName"] == "Buyer 0 LLC" {
			w.SS.SetClientFields(c.ID, map[string]string{"city": "Waco"})
		}
	}
	want := map[string]string{"Agency Client 0": "Houston", "Buyer 0 LLC": "Waco"}
	if err := waitUntil(ctx, same(want)); err != nil {
		return 0, 0, fmt.Errorf("waiting for the client edits: %w (%s)", err, w.clientDiff(want))
	}
	// No ping-pong: three more rounds of both client pollers write nothing.
	writes := func() int {
		s := w.SS.Stats().ByMethod
		return w.LE.RequestCount(leadexecsim.EndpointEditClient) + s["createClient"] + s["updateClient"] +
			s["updateAccountSendLimit"] + s["enableAccountSending"] + s["disableAccountSending"]
	}
	polls := func() (int, int) {
		return w.LE.RequestCount(leadexecsim.EndpointGetClientList), w.SS.Stats().ByMethod["getClients"]
	}
	// A write still settling when the sides first agree (a retried write
	// whose first answer was lost, say) may add one more write; a
	// ping-pong never stops writing.
	start := writes()
	for round := 0; ; round++ {
		before := writes()
		le0, ss0 := polls()
		if err := waitUntil(ctx, func() bool { le, ss := polls(); return le >= le0+3 && ss >= ss0+3 && p.Idle(ctx) }); err != nil {
			return 0, 0, err
		}
		after := writes()
		if after == before {
			if after != start {
				w.o.Say("client writes settled after %d more (%d → %d)", after-start, start, after)
			}
			late = after - start
			break
		}
		if round == 2 {
			return 0, 0, fmt.Errorf("client write requests go on without changes: %d → %d over %d rounds of polls (ping-pong)", start, after, round+1)
		}
	}
	return 2 * n, late, w.clientErr(want)
}

func (w *World) clientErr(want map[string]string) error {
	if d := w.clientDiff(want); d != "" {
		return fmt.Errorf("clients differ: %s", d)
	}
	return nil
}

// clientDiff compares the active SharpSpring agency clients with the
// LeadExec clients by company name; want names the city some must have.
// It returns the first difference, or "".
func (w *World) clientDiff(want map[string]string) string {
	le := map[string][]leadexecsim.Client{}
	for _, c := range w.LE.Clients() {
		le[c.Fields[leCompany]] = append(le[c.Fields[leCompany]], c)
	}
	ss := 0
	for _, c := range w.SS.Clients() {
		if !c.Active {
			continue
		}
		ss++
		name := c.Fields["companyName"]
		got := le[name]
		if len(got) != 1 {
			return fmt.Sprintf("leadexec holds %q %d times", name, len(got))
		}
		// getClients does not return salesPhone, so phones travel from
		// LeadExec to SharpSpring only.
		if p := got[0].Fields[lePhone]; p != "" && c.Fields["salesPhone"] != p {
			return fmt.Sprintf("%q salesPhone: sharpspring %q, leadexec %q", name, c.Fields["salesPhone"], p)
		}
		for f, uid := range map[string]int64{"streetAddress": leStreet, "city": leCity, "state": leState, "zipCode": leZip} {
			if c.Fields[f] != got[0].Fields[uid] {
				return fmt.Sprintf("%q %s: sharpspring %q, leadexec %q", name, f, c.Fields[f], got[0].Fields[uid])
			}
		}
		if city, ok := want[name]; ok && c.Fields["city"] != city {
			return fmt.Sprintf("%q city %q, want %q", name, c.Fields["city"], city)
		}
	}
	if ss != len(w.LE.Clients()) {
		return fmt.Sprintf("sharpspring holds %d clients, leadexec %d", ss, len(w.LE.Clients()))
	}
	return ""
}
