package app

import (
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

// TestSharpSpringAndIVvyTwoWay: a lead created in SharpSpring appears in
// iVvy with its custom field; an edit in iVvy overwrites the SharpSpring
// value; nothing ping-pongs (write requests settle to zero over many poll
// rounds); no duplicate on either side across a restart.
func TestSharpSpringAndIVvyTwoWay(t *testing.T) {
	ss, ssURL := serveSharpSpring(t)
	iv, ivURL := serveIVvy(t, ivvysim.Options{})
	colorSys := ss.CreateField("lead", "Favorite Color", "text")
	cfg := &config.Config{
		DataDir:     t.TempDir(),
		HTTP:        config.HTTPConfig{Listen: "127.0.0.1:0"},
		SharpSpring: sharpSpringPolling(ssURL),
		IVvy: &config.IVvyConfig{Endpoint: ivURL, APIKey: ivvysim.DefaultKey, APISecret: ivvysim.DefaultSecret, RatePerSecond: 20,
			LeadDefaults: ivvyLeadDefaults,
			Poller:       config.PollerConfig{Interval: config.Duration(time.Second)}},
		Catalog: []mappings.CatalogField{{Name: "favorite_color", Label: "Favorite Color", SharpSpring: colorSys, IVvy: "101"}},
		Routes: []config.RouteConfig{
			{Name: "ss-iv", From: "sharpspring.lead", To: "ivvy.lead", Linger: config.Duration(50 * time.Millisecond)},
			{Name: "iv-ss", From: "ivvy.lead", To: "sharpspring.lead", Linger: config.Duration(50 * time.Millisecond)},
		},
	}
	logs := &testenv.Log{}
	run := func() (*App, func()) { return runApp(t, cfg, logs) }
	wait := waiter(t, logs)
	ivLead := func(email string) (ivvysim.Lead, bool) {
		ls := iv.LeadsByEmail(email)
		if len(ls) > 1 {
			t.Fatalf("%d iVvy leads for %s", len(ls), email)
		}
		if len(ls) == 0 {
			return ivvysim.Lead{}, false
		}
		return ls[0], true
	}

	_, stop := run()
	ss.SeedLead(map[string]string{"emailAddress": "rio@example.com", "firstName": "Rio", "lastName": "Lane", colorSys: "amber"})
	wait("the lead in iVvy with its custom field", func() bool {
		l, ok := ivLead("rio@example.com")
		return ok && l.CustomFields[101] == "amber"
	})
	l, _ := ivLead("rio@example.com")
	c, _ := iv.ContactByID(l.ContactID)
	if c.FirstName != "Rio" || c.LastName != "Lane" {
		t.Fatalf("iVvy contact = %+v", c)
	}

	// An edit in iVvy overwrites SharpSpring.
	iv.EditLead(l.ID, func(x *ivvysim.Lead) { x.CustomFields[101] = "teal" })
	wait("the iVvy edit in SharpSpring", func() bool {
		sl, ok := ss.LeadByEmail("rio@example.com")
		return ok && sl.Fields[colorSys] != nil && *sl.Fields[colorSys] == "teal"
	})

	// Quiet: over several poll rounds of both pollers, no more writes.
	writes := func() int {
		s, i := ss.Stats(), iv.Stats()
		return s.ByMethod["createLeads"] + s.ByMethod["updateLeadsV2"] + s.ByMethod["updateLeads"] +
			i.ByAction["contact.addOrUpdateLead"] + i.ByAction["contact.addOrUpdateContact"] + i.ByAction["batch.run"]
	}
	// This is a measurement over a quiet period, not a wait for a
	// condition: with 1 s poll intervals, 3 s let the last echo arrive and
	// 5 s more cover five poll rounds of each poller.
	time.Sleep(3 * time.Second)
	before := writes()
	time.Sleep(5 * time.Second)
	if after := writes(); after != before {
		t.Fatalf("write requests went on without changes: %d → %d (ping-pong)", before, after)
	}
	stop()

	// Restart: nothing is duplicated on either side, and a new edit in
	// SharpSpring still flows to iVvy.
	_, stop = run()
	defer stop()
	sl, _ := ss.LeadByEmail("rio@example.com")
	if _, err := sharpspringUpdate(ssURL, sl.ID, map[string]string{"lastName": "Lane-Smith"}); err != nil {
		t.Fatal(err)
	}
	wait("the SharpSpring edit in iVvy", func() bool {
		l, ok := ivLead("rio@example.com")
		if !ok {
			return false
		}
		c, _ := iv.ContactByID(l.ContactID)
		return c.LastName == "Lane-Smith"
	})
	if n := len(ss.Leads()); n != 1 {
		t.Fatalf("SharpSpring holds %d leads, want 1", n)
	}
	if n := len(iv.Leads()); n != 1 {
		t.Fatalf("iVvy holds %d leads, want 1", n)
	}
}
