package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

const lePostingKey = "posting-key-DO-NOT-LOG"

// leWorld is a SharpSpring and a LeadExec simulator over real HTTP and a
// crmsync instance routing between them.
type leWorld struct {
	t     *testing.T
	ss    *sharpspringsim.Server
	ssURL string
	le    *leadexecsim.Server
	cfg   *config.Config
	logs  *testenv.Log
	app   *App
	stop  func()
}

func newLEWorld(t *testing.T, routes []config.RouteConfig, tweak func(*config.Config)) *leWorld {
	t.Helper()
	w := &leWorld{t: t, logs: &testenv.Log{}}
	w.ss, w.ssURL = serveSharpSpring(t)
	w.le = leadexecsim.NewServer(leadexecsim.Options{PostingKey: lePostingKey})
	leURL := serve(t, w.le)
	w.cfg = &config.Config{
		DataDir:     t.TempDir(),
		HTTP:        config.HTTPConfig{Listen: "127.0.0.1:0"},
		SharpSpring: sharpSpringPolling(w.ssURL),
		LeadExec: &config.LeadExecConfig{APIURL: leURL, LeadsURL: leURL, DataURL: leURL,
			Key: leadexecsim.DefaultKey, ClientID: leadexecsim.DefaultClientID, ClientSecret: leadexecsim.DefaultClientSecret,
			Webhook: config.WebhookConfig{BasicUser: hookUser, BasicPassword: hookPass},
			Receiver: config.LeadExecReceiverConfig{VID: leadexecsim.DefaultVID, LID: leadexecsim.DefaultLID,
				AID: leadexecsim.DefaultAID, APIKey: lePostingKey},
			ClientPoller: config.ClientPollerConfig{Interval: config.Duration(time.Second)}},
		Routes: routes,
	}
	w.cfg.SharpSpring.ClientPoller = config.ClientPollerConfig{Interval: config.Duration(time.Second)}
	for i := range w.cfg.Routes {
		w.cfg.Routes[i].Linger = config.Duration(50 * time.Millisecond)
	}
	if tweak != nil {
		tweak(w.cfg)
	}
	w.app, w.stop = runApp(t, w.cfg, w.logs)
	t.Cleanup(func() {
		w.stop()
		for _, secret := range []string{testSecret, hookPass, lePostingKey, leadexecsim.DefaultClientSecret, leadexecsim.DefaultKey} {
			if strings.Contains(w.logs.String(), secret) {
				t.Errorf("a secret appeared in the logs")
			}
		}
		for _, c := range w.le.Clients() {
			if c.Password != "" && strings.Contains(w.logs.String(), c.Password) {
				t.Errorf("a client's portal password appeared in the logs")
			}
		}
	})
	w.wait("http ready", func() bool { return ready("http://" + w.app.Addr()) })
	return w
}

func (w *leWorld) wait(what string, cond func() bool) {
	w.t.Helper()
	waitLogged(w.t, w.logs, what, cond)
}

// settled reports whether a route has no event pending on the bus.
func (w *leWorld) settled(route string) bool {
	ru, ok := w.app.Route(route)
	if !ok {
		w.t.Fatalf("no route %s", route)
	}
	b, _, err := w.app.Backlog(context.Background(), route)
	return err == nil && b == 0 && ru.Stats.Settled.Load() == ru.Stats.Events.Load()
}

// rounds waits until the request count of each poll has grown by n, so
// every poller ran n more times.
func (w *leWorld) rounds(n int, counts ...func() int) {
	w.t.Helper()
	start := make([]int, len(counts))
	for i, c := range counts {
		start[i] = c()
	}
	w.wait(strconv.Itoa(n)+" poll rounds", func() bool {
		for i, c := range counts {
			if c()-start[i] < n {
				return false
			}
		}
		return true
	})
}

func (w *leWorld) leLeadByEmail(email string) []leadexecsim.StoredLead {
	var out []leadexecsim.StoredLead
	for _, l := range w.le.Leads() {
		if strings.EqualFold(l.Fields["Email"], email) {
			out = append(out, l)
		}
	}
	return out
}

func (w *leWorld) get(path string) string {
	w.t.Helper()
	resp, err := http.Get("http://" + w.app.Addr() + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestLeadExecLeadsBothWays: leads made in SharpSpring are inserted into
// LeadExec once (edits are not posted again: LeadExec has no lead update),
// refused ones are dead-lettered with LeadExec's details, a 5xx is retried;
// leads LeadExec delivers reach SharpSpring; and a delivery LeadExec drops
// is found by the safety net exactly once, without a delivered lead being
// published again.
func TestLeadExecLeadsBothWays(t *testing.T) {
	t.Parallel()
	w := newLEWorld(t, []config.RouteConfig{
		{Name: "le-ss", From: "leadexec.lead", To: "sharpspring.lead"},
		{Name: "ss-le", From: "sharpspring.lead", To: "leadexec.lead"},
	}, func(c *config.Config) {
		c.LeadExec.SafetyNet = config.LeadExecSafetyNetConfig{LeadTypes: []int64{leadexecsim.DefaultLID},
			Interval: config.Duration(time.Second), Lookback: config.Duration(time.Hour), MinAge: config.Duration(time.Minute)}
	})
	ssLE, _ := w.app.Route("ss-le")
	inserts := func() int { return w.le.RequestCount(leadexecsim.EndpointInsertV2) }

	// A lead made in SharpSpring arrives in LeadExec; a 5xx on the way is
	// retried.
	w.le.FailNext(leadexecsim.EndpointInsertV2, 1, 503)
	w.ss.SeedLead(map[string]string{"emailAddress": "rio@example.com", "firstName": "Rio", "lastName": "Lane",
		"phoneNumber": "512-555-0101", "state": "TX", "city": "Austin"})
	w.wait("the SharpSpring lead in LeadExec", func() bool { return len(w.leLeadByEmail("rio@example.com")) == 1 })
	if l := w.leLeadByEmail("rio@example.com")[0]; l.Fields["LastName"] != "Lane" || l.Fields["City"] != "Austin" {
		t.Fatalf("LeadExec lead %+v", l)
	}
	w.wait("ss-le settled", func() bool { return w.settled("ss-le") && ssLE.Stats.Upserts.Load() == 1 })
	if ssLE.Stats.Retries.Load() < 1 {
		t.Fatal("the 5xx was not retried")
	}

	// An edit in SharpSpring is not posted again.
	sl, _ := w.ss.LeadByEmail("rio@example.com")
	skipped := ssLE.Stats.Skipped.Load()
	posted := inserts()
	if _, err := sharpspringUpdate(w.ssURL, sl.ID, map[string]string{"lastName": "Lane-Smith"}); err != nil {
		t.Fatal(err)
	}
	w.wait("the edit skipped", func() bool { return w.settled("ss-le") && ssLE.Stats.Skipped.Load() > skipped })
	if n := inserts(); n != posted {
		t.Fatalf("the edit was posted: %d → %d inserts", posted, n)
	}
	if ls := w.leLeadByEmail("rio@example.com"); len(ls) != 1 || ls[0].Fields["LastName"] != "Lane" {
		t.Fatalf("LeadExec leads %+v", ls)
	}

	// A lead LeadExec refuses is dead-lettered with its details.
	w.ss.SeedLead(map[string]string{"emailAddress": "nophone@example.com", "firstName": "No", "lastName": "Phone"})
	w.wait("the refused lead dead-lettered", func() bool {
		dls, _ := w.app.State.DeadLetters(context.Background(), pipeline.DeadLetterFilter{Route: "ss-le"})
		return len(dls) == 1
	})
	dls, _ := w.app.State.DeadLetters(context.Background(), pipeline.DeadLetterFilter{Route: "ss-le"})
	if d := dls[0]; d.Code != "Data_Errors" || !strings.Contains(d.Message, "PrimaryPhone") || d.Attempts != 1 {
		t.Fatalf("dead letter %+v", d)
	}

	// LeadExec delivers one lead and drops the delivery of another.
	sender, err := leadexecsim.NewSender(leadexecsim.Delivery{URL: "http://" + w.app.Addr() + "/webhooks/leadexec",
		BasicUser: hookUser, BasicPassword: hookPass, ResponseSearch: `"status":"success"`})
	if err != nil {
		t.Fatal(err)
	}
	// Both were taken by LeadExec two minutes ago: older than the safety
	// net's min_age (the leads crmsync posts itself are younger).
	gen := leadexecsim.GenerateLeads(2, 11, nil)
	added := time.Now().Add(-2 * time.Minute)
	delivered := w.le.AddLead(leadexecsim.StoredLead{Fields: gen[0].Fields, DateAdded: added})
	dropped := w.le.AddLead(leadexecsim.StoredLead{Fields: gen[1].Fields, DateAdded: added})
	sender.DropNext(dropped)
	for _, uid := range []int64{delivered, dropped} {
		l, _ := w.le.LeadByUID(uid)
		if res := sender.Deliver(context.Background(), l.Lead()); res.Delivered != (uid == delivered) {
			t.Fatalf("delivery of %d: %+v", uid, res)
		}
	}
	for _, l := range gen {
		email := l.Fields["Email"]
		w.wait("lead "+email+" in SharpSpring", func() bool { _, ok := w.ss.LeadByEmail(email); return ok })
	}
	w.wait("one missed delivery", func() bool { return w.app.SafetyNet().MissedDeliveries == 1 })

	// Quiet: over three more rounds of every poller nothing is published or
	// posted again, and nothing new is missed.
	polls := func() int { return int(w.app.SafetyNet().Polls) }
	ssPolls := func() int { return w.ss.Stats().ByMethod["getLeadsDateRange"] }
	w.rounds(3, polls, ssPolls)
	w.wait("routes settled", func() bool { return w.settled("ss-le") && w.settled("le-ss") })
	posted = inserts()
	w.rounds(3, polls, ssPolls)
	if n := inserts(); n != posted {
		t.Fatalf("inserts went on without changes: %d → %d", posted, n)
	}
	if n := w.app.SafetyNet().MissedDeliveries; n != 1 {
		t.Fatalf("missed deliveries = %d, want 1", n)
	}
	if n := len(w.le.Leads()); n != 3 {
		t.Fatalf("LeadExec holds %d leads, want 3", n)
	}
	if n := len(w.ss.Leads()); n != 4 {
		t.Fatalf("SharpSpring holds %d leads, want 4", n)
	}
	if m := w.get("/metrics"); !strings.Contains(m, "crmsync_leadexec_missed_deliveries_total 1\n") {
		t.Fatalf("metrics lack the missed deliveries:\n%s", m)
	}
	var st Status
	if err := json.Unmarshal([]byte(w.get("/status")), &st); err != nil || st.SafetyNet == nil || st.SafetyNet.MissedDeliveries != 1 {
		t.Fatalf("status %+v %v", st.SafetyNet, err)
	}
}

// TestLeadExecClientsTwoWay: SharpSpring agency clients and LeadExec
// clients (buyers) in both directions: a client made on either side appears
// on the other, an edit on either side overwrites the other, an access
// token expiring mid-run changes nothing, and write requests settle to zero
// (no ping-pong) with no duplicate on either side.
func TestLeadExecClientsTwoWay(t *testing.T) {
	t.Parallel()
	w := newLEWorld(t, []config.RouteConfig{
		{Name: "ss-le-clients", From: "sharpspring.client", To: "leadexec.client"},
		{Name: "le-ss-clients", From: "leadexec.client", To: "sharpspring.client"},
	}, nil)
	leClient := func(username string) (leadexecsim.Client, bool) {
		for _, c := range w.le.Clients() {
			if c.Username == username {
				return c, true
			}
		}
		return leadexecsim.Client{}, false
	}
	ssClient := func(company string) (sharpspringsim.Client, bool) {
		for _, c := range w.ss.Clients() {
			if c.Fields["companyName"] == company {
				return c, true
			}
		}
		return sharpspringsim.Client{}, false
	}
	// Default client fields of the simulator, by SpecialBit.
	const fCompany, fPhone, fEmail, fCity, fState = 1001, 1005, 1004, 1007, 1008

	acmeSS := w.ss.SeedClient("", map[string]string{"companyName": "Acme Co", "salesPhone": "+1 512 555 0100",
		"streetAddress": "1 Main St", "city": "Austin", "state": "TX", "zipCode": "73301", "country": "US"})
	betaLE := w.le.AddClient(leadexecsim.Client{Username: "beta", Fields: map[int64]string{fCompany: "Beta LLC",
		fPhone: "+1 214 555 0101", fEmail: "ops@beta.example", fCity: "Dallas", fState: "TX"}})
	// More on both sides at once: each side's poller may report a client
	// crmsync creates there before that write is settled; it must still
	// be recognised as the same client (no duplicate, no echo).
	for i := range 2 {
		w.ss.SeedClient("", map[string]string{"companyName": "Agency " + strconv.Itoa(i), "salesPhone": "+1 512 555 011" + strconv.Itoa(i),
			"city": "Austin"})
		w.le.AddClient(leadexecsim.Client{Username: "buyer" + strconv.Itoa(i), Fields: map[int64]string{fCompany: "Buyer " + strconv.Itoa(i),
			fPhone: "+1 214 555 011" + strconv.Itoa(i), fCity: "Dallas"}})
	}
	const total = 6

	w.wait("Acme in LeadExec", func() bool {
		c, ok := leClient("crmsync-acme-co")
		return ok && c.Fields[fCompany] == "Acme Co" && c.Fields[fCity] == "Austin" && c.Fields[1006] == "1 Main St"
	})
	w.wait("Beta in SharpSpring", func() bool {
		c, ok := ssClient("Beta LLC")
		return ok && c.Fields["city"] == "Dallas" && c.Fields["salesPhone"] == "+1 214 555 0101"
	})
	acme, _ := leClient("crmsync-acme-co")
	if acme.Password == "" {
		t.Fatal("a new LeadExec client got no password")
	}

	// An edit in LeadExec overwrites SharpSpring; an edit in SharpSpring
	// overwrites LeadExec, through AddEditClient, which takes the whole
	// client: what the edit does not carry stays as it was.
	if err := w.le.SetClientField(acme.ClientUID, fCity, "Houston"); err != nil {
		t.Fatal(err)
	}
	w.wait("the LeadExec edit in SharpSpring", func() bool {
		c, _ := ssClient("Acme Co")
		return c.Fields["city"] == "Houston"
	})
	betaBefore, _ := w.le.ClientByUID(betaLE)
	beta, _ := ssClient("Beta LLC")
	w.ss.SetClientFields(beta.ID, map[string]string{"city": "Waco"})
	w.wait("the SharpSpring edit in LeadExec", func() bool {
		c, _ := w.le.ClientByUID(betaLE)
		return c.Fields[fCity] == "Waco"
	})
	if c, _ := w.le.ClientByUID(betaLE); c.Fields[fCompany] != "Beta LLC" || c.Fields[fEmail] != "ops@beta.example" ||
		c.Username != betaBefore.Username || c.Password != betaBefore.Password || c.Status != betaBefore.Status ||
		c.TimeZoneName != betaBefore.TimeZoneName || !c.DateAdded.Equal(betaBefore.DateAdded) {
		t.Fatalf("fields not carried by the edit changed: %+v", c)
	}
	w.wait("every client on both sides", func() bool { return len(w.ss.Clients()) == total && len(w.le.Clients()) == total })

	// No ping-pong: over three rounds of both pollers (after everything
	// settled), no write request is made.
	lePolls := func() int { return w.le.RequestCount(leadexecsim.EndpointGetClientList) }
	ssPolls := func() int { return w.ss.Stats().ByMethod["getClients"] }
	writes := func() int {
		s := w.ss.Stats().ByMethod
		return w.le.RequestCount(leadexecsim.EndpointEditClient) + s["createClient"] + s["updateClient"] +
			s["updateAccountSendLimit"] + s["enableAccountSending"] + s["disableAccountSending"]
	}
	w.rounds(2, lePolls, ssPolls)
	w.wait("routes settled", func() bool { return w.settled("ss-le-clients") && w.settled("le-ss-clients") })
	before := writes()
	w.rounds(3, lePolls, ssPolls)
	if after := writes(); after != before {
		t.Fatalf("write requests went on without changes: %d → %d (ping-pong)", before, after)
	}
	if n := len(w.le.Clients()); n != total {
		t.Fatalf("LeadExec holds %d clients, want %d", n, total)
	}
	if n := len(w.ss.Clients()); n != total {
		t.Fatalf("SharpSpring holds %d clients, want %d", n, total)
	}
	companies := map[string]int{}
	for _, c := range w.le.Clients() {
		companies[c.Fields[fCompany]]++
	}
	for _, c := range w.ss.Clients() {
		if companies[c.Fields["companyName"]] != 1 {
			t.Fatalf("LeadExec holds %q %d times", c.Fields["companyName"], companies[c.Fields["companyName"]])
		}
	}
	if c := w.ss.Clients(); c[0].ID != acmeSS {
		t.Fatalf("clients %+v", c)
	}
}
