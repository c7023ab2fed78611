package sharpspring

import (
	"context"
	"strconv"
	"testing"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sourcetest"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

func (e *env) clientPoller(pub pipeline.Publisher) *ClientPoller {
	e.t.Helper()
	if pub == nil {
		pub = e.bus
	}
	p, err := NewClientPoller(ClientPollerConfig{Now: e.clock.Now}, e.client("v1.2"), pub, e.store)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func TestClientPollerDiffsSnapshots(t *testing.T) {
	e := newEnv(t, sharpspringsim.Options{ClientsHasMoreTrue: true})
	a := e.sim.SeedClient("", map[string]string{"companyName": "Acme &amp; Co", "city": "Austin"})
	b := e.sim.SeedClient("", map[string]string{"companyName": "Beta"})
	gone := e.sim.SeedClient("", map[string]string{"companyName": "Gamma"})
	e.sim.SeedClient("9999", map[string]string{"companyName": "Another agency's"})
	ctx := context.Background()

	res, err := e.clientPoller(nil).Poll(ctx)
	if err != nil || res != (ClientPollResult{Listed: 3, Created: 3}) {
		t.Fatalf("first poll %+v %v", res, err)
	}
	e.sim.SetClientFields(a, map[string]string{"city": "Dallas"})
	e.sim.SetClientActive(gone, false)
	c := e.sim.SeedClient("", map[string]string{"companyName": "Delta"})

	// Crash after the first of three events, then restart.
	ctx2, cancel := context.WithCancel(ctx)
	if _, err := e.clientPoller(&sourcetest.CrashAfter{Inner: e.bus, After: 1, Cancel: cancel}).Poll(ctx2); err == nil {
		t.Fatal("crashed poll reported success")
	}
	cancel()
	res, err = e.clientPoller(nil).Poll(ctx)
	if err != nil || res != (ClientPollResult{Listed: 3, Created: 1, Changed: 1, Removed: 1}) {
		t.Fatalf("second poll %+v %v", res, err)
	}
	// A change back to an earlier state is a change too.
	e.sim.SetClientFields(a, map[string]string{"city": "Austin"})
	if res, err := e.clientPoller(nil).Poll(ctx); err != nil || res.Changed != 1 {
		t.Fatalf("revert %+v %v", res, err)
	}
	if res, err := e.clientPoller(nil).Poll(ctx); err != nil || res != (ClientPollResult{Listed: 3}) {
		t.Fatalf("quiet poll %+v %v", res, err)
	}

	evs := e.events("client")
	byClient := map[string][]pipeline.Event{}
	for _, ev := range evs {
		byClient[ev.ExternalID] = append(byClient[ev.ExternalID], ev)
	}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	if len(evs) != 7 || len(byClient[id(a)]) != 3 || len(byClient[id(b)]) != 1 || len(byClient[id(gone)]) != 2 || len(byClient[id(c)]) != 1 {
		t.Fatalf("%d events: %+v", len(evs), byClient)
	}
	if f := byClient[id(a)][0].Fields; f["companyName"] != "Acme & Co" || f["city"] != "Austin" || f["state"] != "" {
		t.Fatalf("fields %v", f)
	}
	if _, ok := byClient[id(a)][0].Fields["state"]; ok {
		t.Fatal("a null field was published as a clear")
	}
	if ev := byClient[id(gone)][1]; ev.Op != pipeline.OpDelete {
		t.Fatalf("removal %+v", ev)
	}
}
