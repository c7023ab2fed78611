package leadexec

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/natsbus"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/leadexec"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/simkit/simtest"
)

// pollEnv is a LeadExec simulator over real HTTP, a client of it, an
// embedded bus and a state file.
type pollEnv struct {
	t     *testing.T
	clock *simtest.Clock // shared by the simulator and the pollers
	sim   *leadexecsim.Server
	c     *leadexec.Client
	bus   *natsbus.Bus
	state *checkpoints.Store
}

func newPollEnv(t *testing.T, opts leadexecsim.Options) *pollEnv {
	t.Helper()
	ck := simtest.NewClock(time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC))
	opts.Now = ck.Now
	sim := leadexecsim.NewServer(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := leadexec.New(leadexec.Config{APIURL: srv.URL, LeadsURL: srv.URL, DataURL: srv.URL, Key: leadexecsim.DefaultKey,
		ClientID: leadexecsim.DefaultClientID, ClientSecret: leadexecsim.DefaultClientSecret, Now: ck.Now})
	if err != nil {
		t.Fatal(err)
	}
	state := testenv.State(t)
	bus := testenv.Bus(t)
	return &pollEnv{t: t, clock: ck, sim: sim, c: c, bus: bus, state: state}
}

// clientPoller returns a client poller on the env's clock and state,
// publishing to pub.
func (e *pollEnv) clientPoller(pub pipeline.Publisher) *ClientPoller {
	e.t.Helper()
	p, err := NewClientPoller(ClientPollerConfig{Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)}, e.c, pub, e.state)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// drain reads every event of the entity from the start of the stream.
func (e *pollEnv) drain(consumer, entity string) []pipeline.Event {
	e.t.Helper()
	cons, err := e.bus.Consumer(context.Background(), consumer, pipeline.Subject(entity, "leadexec"))
	if err != nil {
		e.t.Fatal(err)
	}
	return testenv.Drain(e.t, cons, 200*time.Millisecond)
}

func TestClientPollerDiffsSnapshots(t *testing.T) {
	// Descriptors in the account's own words: fields are matched by
	// SpecialBit only.
	e := newPollEnv(t, leadexecsim.Options{ClientFields: []leadexecsim.ClientFieldDef{
		{ClientFieldUID: 11, Descriptor: "Firma", SpecialBit: "Company"},
		{ClientFieldUID: 12, Descriptor: "Telefon", SpecialBit: "PrimaryPhone"},
		{ClientFieldUID: 13, Descriptor: "Ort", SpecialBit: "City"},
		{ClientFieldUID: 14, Descriptor: "City (old)", SpecialBit: "City"},
		{ClientFieldUID: 15, Descriptor: "Company"},
		{ClientFieldUID: 16, Descriptor: "State", SpecialBit: "State", IsState: true},
	}})
	added := time.Date(2026, 1, 5, 10, 50, 54, 0, time.UTC)
	a := e.sim.AddClient(leadexecsim.Client{Username: "acme", DateAdded: added, Fields: map[int64]string{11: "Acme", 12: "5125550100", 13: "Austin", 14: "Old", 15: "Not the company", 16: "44"}})
	b := e.sim.AddClient(leadexecsim.Client{Fields: map[int64]string{11: "Beta"}})
	ctx := context.Background()

	if res, err := e.clientPoller(e.bus).Poll(ctx); err != nil || res != (ClientPollResult{Listed: 2, Created: 2}) {
		t.Fatalf("first poll %+v %v", res, err)
	}
	evs := e.drain("t1", "client")
	if len(evs) != 2 || evs[0].ExternalID != strconv.FormatInt(a, 10) || evs[1].ExternalID != strconv.FormatInt(b, 10) {
		t.Fatalf("events %+v", evs)
	}
	want := map[string]string{"Company": "Acme", "PrimaryPhone": "5125550100", "City": "Austin", "DateAdded": "2026-01-05T10:50:54Z",
		"Username": "acme"}
	if got := evs[0].Fields; len(got) != len(want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	for k, v := range want {
		if evs[0].Fields[k] != v {
			t.Fatalf("fields %v, want %v", evs[0].Fields, want)
		}
	}
	if f := evs[1].Fields; f["Company"] != "Beta" || len(f) != 2 {
		t.Fatalf("an empty field was published as a clear: %v", f)
	}

	// An edit and a clear in LeadExec; the poll is cut short after the
	// first event and repeated.
	if err := e.sim.SetClientField(a, 13, "Dallas"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetClientField(a, 12, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetClientField(b, 12, "5125550111"); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	if _, err := e.clientPoller(&sourcetest.CrashAfter{Inner: e.bus, After: 1, Cancel: cancel}).Poll(cctx); err == nil {
		t.Fatal("the cut-short poll reported success")
	}
	cancel()
	if res, err := e.clientPoller(e.bus).Poll(ctx); err != nil || res != (ClientPollResult{Listed: 2, Changed: 2}) {
		t.Fatalf("second poll %+v %v", res, err)
	}
	evs = e.drain("t2", "client")
	if len(evs) != 4 {
		t.Fatalf("%d events, want 2 + the 2 changes (the repeat dropped as a duplicate)", len(evs))
	}
	ch := evs[2].Fields
	if v, ok := ch["PrimaryPhone"]; !ok || v != "" || ch["City"] != "Dallas" {
		t.Fatalf("change %v: want City Dallas and PrimaryPhone cleared", ch)
	}
	if res, err := e.clientPoller(e.bus).Poll(ctx); err != nil || res != (ClientPollResult{Listed: 2}) {
		t.Fatalf("quiet poll %+v %v", res, err)
	}

	// A failing read leaves the snapshot alone.
	e.sim.FailNext(leadexecsim.EndpointGetClientData, 1, 500)
	if err := e.sim.SetClientField(b, 13, "Waco"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.clientPoller(e.bus).Poll(ctx); err == nil {
		t.Fatal("a failed GetClientData was not reported")
	}
	if res, err := e.clientPoller(e.bus).Poll(ctx); err != nil || res.Changed != 1 {
		t.Fatalf("poll after the failure %+v %v", res, err)
	}
}

// TestSafetyNetFindsMissedDeliveries: LeadExec delivers two leads to the
// webhook and drops the delivery of a third; the safety net publishes the
// third exactly once, as the webhook would have, and leaves alone the
// delivered ones, a lead crmsync posted itself, one too young and one too
// old. The dropped delivery arriving later is a duplicate.
func TestSafetyNetFindsMissedDeliveries(t *testing.T) {
	e := newPollEnv(t, leadexecsim.Options{})
	ctx := context.Background()
	rcv := NewReceiver(Config{BearerToken: "tok"}, e.bus, e.state, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hook := httptest.NewServer(rcv)
	t.Cleanup(hook.Close)
	sender, err := leadexecsim.NewSender(leadexecsim.Delivery{URL: hook.URL + DefaultPath, BearerToken: "tok",
		ResponseSearch: `"status":"success"`})
	if err != nil {
		t.Fatal(err)
	}
	store := func(n int, age time.Duration) leadexecsim.StoredLead {
		l := leadexecsim.GenerateLeads(n, 7, nil)[n-1]
		uid := e.sim.AddLead(leadexecsim.StoredLead{DateAdded: e.clock.Now().Add(-age), Fields: l.Fields})
		got, _ := e.sim.LeadByUID(uid)
		return got
	}
	delivered1, delivered2 := store(1, 3*time.Hour), store(2, 2*time.Hour)
	dropped := store(3, time.Hour)
	ours := store(4, time.Hour)
	young := store(5, time.Minute)
	store(6, 30*time.Hour) // older than the lookback
	for _, l := range []leadexecsim.StoredLead{delivered1, delivered2, dropped, young} {
		if l.UID == dropped.UID {
			sender.DropNext(l.UID)
		}
		res := sender.Deliver(ctx, l.Lead())
		if (l.UID == dropped.UID) == res.Delivered {
			t.Fatalf("delivery of %d: %+v", l.UID, res)
		}
	}
	// A lead crmsync posted itself is linked in the identity map.
	if _, err := e.state.Settle(ctx, pipeline.Settlement{Links: []pipeline.Link{
		{CanonicalID: "canon-1", Key: pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: strconv.FormatInt(ours.UID, 10)}},
	}}); err != nil {
		t.Fatal(err)
	}
	webhookEvents := e.drain("t1", "lead")
	if len(webhookEvents) != 3 {
		t.Fatalf("the webhook published %d events", len(webhookEvents))
	}

	n, err := NewSafetyNet(SafetyNetConfig{LeadTypes: []int64{leadexecsim.DefaultLID}, PageSize: 2, Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, e.c, e.bus, e.state)
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Poll(ctx)
	if err != nil || res != (SafetyNetResult{Checked: 4, Missed: 1}) || n.Missed() != 1 {
		t.Fatalf("poll %+v %v (missed %d)", res, err, n.Missed())
	}
	evs := e.drain("t2", "lead")
	if len(evs) != 4 || evs[3].ExternalID != strconv.FormatInt(dropped.UID, 10) {
		t.Fatalf("events %+v", evs)
	}
	ev := evs[3]
	if !ev.ChangedAt.Equal(dropped.DateAdded) || len(ev.Fields) != len(dropped.Fields) || ev.Fields["Email"] != dropped.Fields["Email"] {
		t.Fatalf("published %+v for %+v", ev, dropped)
	}

	// The next poll publishes nothing new, even after the token expired.
	e.clock.Add(15 * time.Minute)
	e.sim.ExpireTokens()
	if res, err := n.Poll(ctx); err != nil || res.Missed != 0 || res.Checked != 5 || n.Missed() != 1 {
		t.Fatalf("second poll %+v %v", res, err)
	}
	// LeadExec retries the dropped delivery after all: same content, so
	// the webhook takes it as a duplicate and publishes nothing.
	if r := sender.Deliver(ctx, dropped.Lead()); !r.Delivered {
		t.Fatalf("late delivery %+v", r)
	}
	if got := rcv.Stats.Duplicates.Load(); got != 1 {
		t.Fatalf("webhook duplicates = %d, want 1", got)
	}
	if evs := e.drain("t3", "lead"); len(evs) != 4 {
		t.Fatalf("%d events after the late delivery, want 4", len(evs))
	}
	s, _, err := e.state.Cursor(ctx, DefaultSafetyNetSource)
	var cur safetyNetCursor
	if err != nil || json.Unmarshal([]byte(s), &cur) != nil || cur.MissedTotal != 1 || cur.Checked != 5 {
		t.Fatalf("cursor %q %v", s, err)
	}
	if _, err := NewSafetyNet(SafetyNetConfig{}, e.c, e.bus, e.state); err == nil {
		t.Fatal("a safety net without lead types")
	}
}
