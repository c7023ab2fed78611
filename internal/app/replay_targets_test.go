package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/vendors/getlead"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/ivvy/ivvysim"
)

// TestReplayIntoIVvyAndGetleadWritesOnlyWhatDrifted: routes from LeadExec
// into iVvy and Getlead (classic, with a V3 key to read back). A replay of
// unchanged history writes nothing to either; a lead edited in the target
// shows in a dry run as exactly that field, and a real replay writes it
// back once.
func TestReplayIntoIVvyAndGetleadWritesOnlyWhatDrifted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	iv, ivURL := serveIVvy(t, ivvysim.Options{})
	gl, glURL := serveGetlead(t, getleadsim.Options{})

	linger := config.Duration(30 * time.Millisecond)
	cfg := &config.Config{
		DataDir:  t.TempDir(),
		HTTP:     config.HTTPConfig{Listen: "127.0.0.1:0"},
		LeadExec: &config.LeadExecConfig{Webhook: config.WebhookConfig{BasicUser: hookUser, BasicPassword: hookPass}},
		IVvy:     ivvyConfig(ivURL, ivvysim.DefaultKey, ivvysim.DefaultSecret),
		Getlead: &config.GetleadConfig{BaseURL: glURL, V3BaseURL: glURL + "/api/v1", Token: getleadsim.DefaultToken,
			APIKey: getleadsim.DefaultAPIKey, RatePerSecond: 50},
		Catalog: []mappings.CatalogField{{Name: "favorite_color", Label: "Favorite Color", LeadExec: "FavoriteColor", IVvy: "101",
			Getlead: "favorite_color"}},
		Routes: []config.RouteConfig{
			{Name: "le-iv", From: "leadexec.lead", To: "ivvy.lead", Linger: linger},
			{Name: "le-gl", From: "leadexec.lead", To: "getlead.lead", Linger: linger},
		},
	}
	logs := &testenv.Log{}
	a, stop := runApp(t, cfg, logs)
	defer stop()
	wait := waiter(t, logs)
	wait("http ready", func() bool { return ready("http://" + a.Addr()) })

	const n = 5
	for i := 1; i <= n; i++ {
		v := url.Values{"LeadUID": {fmt.Sprint(i)}, "PrimaryPhone": {fmt.Sprintf("+9198765432%02d", i)},
			"Comments": {fmt.Sprintf("call %d", i)}}
		for k, x := range leadFields(i) {
			v.Set(k, x)
		}
		code, _, err := postWebhook(http.DefaultClient, "http://"+a.Addr(), v, hookBasicAuth)
		if err != nil {
			t.Fatal(err)
		}
		if code != 200 {
			t.Fatalf("delivery %d answered %d", i, code)
		}
	}
	for _, route := range []string{"le-iv", "le-gl"} {
		ru, _ := a.Route(route)
		wait(route+" settled", func() bool {
			b, _, err := a.Backlog(ctx, route)
			return err == nil && b == 0 && ru.Stats.Settled.Load() >= n
		})
	}
	if len(iv.Leads()) != n || len(gl.Leads()) != n {
		t.Fatalf("%d iVvy and %d Getlead leads, want %d", len(iv.Leads()), len(gl.Leads()), n)
	}

	off, bus := openOffline(t, cfg)

	ivWrites := func() int {
		st := iv.Stats()
		return st.ByAction["contact.addOrUpdateLead"] + st.ByAction["contact.addOrUpdateContact"] + st.ByAction["batch.run"]
	}
	glWrites := func() int {
		w := 0
		for ep, c := range gl.Stats().ByEndpoint {
			if strings.HasPrefix(ep, "gl-") || ep == "leads.create" || ep == "leads.update" || ep == "leads.by-identifier" || ep == "leads.notes" {
				w += c
			}
		}
		return w
	}
	notes := gl.Stats().NotesAdded
	if notes != n {
		t.Fatalf("%d notes added, want %d", notes, n)
	}

	// From sequence 1, with nothing changed: nothing to write.
	for _, route := range []string{"le-iv", "le-gl"} {
		ivBefore, glBefore := ivWrites(), glWrites()
		sum, err := off.Replay(ctx, bus, ReplayOptions{Route: route, FromSeq: 1})
		if err != nil || sum.Events != n || sum.Records != n || sum.Changed != 0 || sum.Written != 0 ||
			ivWrites() != ivBefore || glWrites() != glBefore {
			t.Fatalf("%s: replay of unchanged history: %+v, %v; writes iVvy %d → %d, Getlead %d → %d",
				route, sum, err, ivBefore, ivWrites(), glBefore, glWrites())
		}
	}

	// Someone edits lead 3 in iVvy: the dry run shows exactly that.
	ls := iv.LeadsByEmail("Lead3@Example.com")
	if len(ls) != 1 {
		t.Fatalf("%d iVvy leads for lead 3", len(ls))
	}
	ivLead := ls[0]
	iv.EditContact(ivLead.ContactID, func(c *ivvysim.Contact) { c.FirstName = "Edited" })
	ivBefore := ivWrites()
	sum, err := off.Replay(ctx, bus, ReplayOptions{Route: "le-iv", FromSeq: 1, DryRun: true})
	if err != nil || sum.Changed != 1 || len(sum.Diffs) != 1 || sum.Written != 0 || ivWrites() != ivBefore {
		t.Fatalf("iVvy dry run: %+v, %v", sum, err)
	}
	if d := sum.Diffs[0]; len(d.Fields) != 1 || d.Fields[mappings.IVvyFirstName] != [2]string{"Edited", "First3"} ||
		d.TargetID != fmt.Sprint(ivLead.ID) || d.Missing {
		t.Fatalf("iVvy dry-run diff = %+v", d)
	}
	if c, _ := iv.ContactByID(ivLead.ContactID); c.FirstName != "Edited" {
		t.Fatal("the dry run wrote to iVvy")
	}
	// The real replay puts it back, with one write.
	sum, err = off.Replay(ctx, bus, ReplayOptions{Route: "le-iv", FromSeq: 1, EntityID: "3"})
	if err != nil || sum.Events != 1 || sum.Written != 1 || ivWrites() != ivBefore+1 {
		t.Fatalf("iVvy replay: %+v, %v; writes %d → %d", sum, err, ivBefore, ivWrites())
	}
	if c, _ := iv.ContactByID(ivLead.ContactID); c.FirstName != "First3" || len(iv.Leads()) != n {
		t.Fatalf("after the replay: contact %+v, %d leads", c, len(iv.Leads()))
	}

	// Someone renames lead 3 in Getlead.
	glLead, ok := gl.LeadByPhone("+919876543203")
	if !ok {
		t.Fatal("Getlead has no lead 3")
	}
	v3, err := getlead.NewV3(getlead.V3Config{BaseURL: glURL + "/api/v1", APIKey: getleadsim.DefaultAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	edited := "Edited Name"
	if err := v3.UpdateLead(ctx, glLead.ID, getlead.LeadWrite{Name: &edited}); err != nil {
		t.Fatal(err)
	}
	glBefore := glWrites()
	sum, err = off.Replay(ctx, bus, ReplayOptions{Route: "le-gl", FromSeq: 1, DryRun: true})
	if err != nil || sum.Changed != 1 || len(sum.Diffs) != 1 || sum.Written != 0 || glWrites() != glBefore {
		t.Fatalf("Getlead dry run: %+v, %v", sum, err)
	}
	if d := sum.Diffs[0]; len(d.Fields) != 1 || d.Fields[mappings.GetleadName] != [2]string{"Edited Name", "First3 Last3"} || d.Missing {
		t.Fatalf("Getlead dry-run diff = %+v", d)
	}
	sum, err = off.Replay(ctx, bus, ReplayOptions{Route: "le-gl", FromSeq: 1, EntityID: "3"})
	if err != nil || sum.Events != 1 || sum.Written != 1 || glWrites() != glBefore+1 {
		t.Fatalf("Getlead replay: %+v, %v; writes %d → %d", sum, err, glBefore, glWrites())
	}
	if l, _ := gl.LeadByPhone("+919876543203"); l.Name != "First3 Last3" || len(l.Notes) != 1 || gl.Stats().NotesAdded != notes {
		t.Fatalf("after the replay: %+v; %d notes added", l, gl.Stats().NotesAdded-notes)
	}

	// And now both targets hold the history again.
	for _, route := range []string{"le-iv", "le-gl"} {
		if sum, err := off.Replay(ctx, bus, ReplayOptions{Route: route, FromSeq: 1, DryRun: true}); err != nil || sum.Changed != 0 {
			t.Fatalf("%s: dry run after the replays: %+v, %v", route, sum, err)
		}
	}
}
