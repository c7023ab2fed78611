package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/leadexec/leadexecsim"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

func leadFields(i int) map[string]string {
	return map[string]string{
		"FirstName": fmt.Sprintf("First%d", i), "LastName": fmt.Sprintf("Last%d", i),
		"Email": fmt.Sprintf("Lead%d@Example.com", i), "City": "Austin", "FavoriteColor": fmt.Sprintf("color-%d", i%7),
	}
}

func TestStopAndRestartMidStreamLosesNothingAndDuplicatesNothing(t *testing.T) {
	buses(t, func(t *testing.T, bus string) {
		// Slow SharpSpring down so the stop lands while batches are in flight,
		// and lose some answers after the write was applied (in-doubt writes).
		h := newHarness(t, harnessOptions{bus: bus, batchSize: 50, linger: 50 * time.Millisecond, rate: 10,
			sim: sharpspringsim.Options{RateLimitPerSecond: -1}})
		h.sim.SetFaults(sharpspringsim.Faults{Latency: 20 * time.Millisecond, DropAfterCommitRate: 0.15, ServerErrorRate: 0.05, Seed: 7})
		h.start()
		const n = 600
		for i := 0; i < n; i++ {
			h.deliver(int64(1000+i), leadFields(i))
		}
		h.waitFor("some leads written", func() bool { return len(h.sim.Leads()) >= 100 })
		written := len(h.sim.Leads())
		h.stop()
		if written >= n {
			t.Fatalf("stop came too late to be mid-stream (%d of %d written)", written, n)
		}
		h.open()
		h.start()
		h.settle(0)
		h.waitFor("every lead written", func() bool { return len(h.sim.Leads()) >= n })
		h.settle(0)
		if got := h.assertOneLeadPerEmail(); got != n {
			t.Fatalf("SharpSpring holds %d distinct leads, want %d", got, n)
		}
		for i := 0; i < n; i += 97 {
			l := h.lead(fmt.Sprintf("lead%d@example.com", i))
			if l["firstName"] != fmt.Sprintf("First%d", i) || l[h.sys["favorite_color"]] != fmt.Sprintf("color-%d", i%7) {
				t.Errorf("lead %d = %v", i, l)
			}
		}
		if st := h.sim.Stats(); st.ErrorsByCode[301] == 0 {
			t.Logf("note: no 301 was needed (drops hit only updates); stats %+v", st.ErrorsByCode)
		}
	})
}

func TestLeadUpdatedTwiceEndsWithLastValue(t *testing.T) {
	buses(t, func(t *testing.T, bus string) {
		h := newHarness(t, harnessOptions{bus: bus, linger: 300 * time.Millisecond})
		t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		base := func(color, city string) map[string]string {
			return map[string]string{"Email": "pat@example.com", "FirstName": "Pat", "FavoriteColor": color, "City": city}
		}
		// All three events are on the bus before the route starts: one batch.
		h.publish(1, t0, base("red", "Austin"))
		h.publish(1, t0.Add(time.Minute), base("green", "Austin"))
		h.publish(1, t0.Add(2*time.Minute), base("blue", "Boston"))
		// The same in reverse arrival order for another lead: the newest still wins.
		other := func(color string) map[string]string {
			return map[string]string{"Email": "sam@example.com", "FavoriteColor": color}
		}
		h.publish(2, t0.Add(2*time.Minute), other("newest"))
		h.publish(2, t0.Add(time.Minute), other("middle"))
		h.publish(2, t0, other("oldest"))
		h.start()
		h.settle(6)
		if got := h.app.Runners[0].Stats.Batches.Load(); got != 1 {
			t.Logf("note: the six events took %d batches", got)
		}
		if l := h.lead("pat@example.com"); l[h.sys["favorite_color"]] != "blue" || l["city"] != "Boston" {
			t.Fatalf("pat = %v, want blue/Boston", l)
		}
		if l := h.lead("sam@example.com"); l[h.sys["favorite_color"]] != "newest" {
			t.Fatalf("sam = %v, want newest", l[h.sys["favorite_color"]])
		}

		// Out of order across batches: the newer change is written first; the
		// older one arrives later and must not overwrite it.
		h.publish(1, t0.Add(10*time.Minute), base("violet", "Chicago"))
		h.settle(7)
		h.publish(1, t0.Add(5*time.Minute), base("stale", "Stale City"))
		h.settle(8)
		if l := h.lead("pat@example.com"); l[h.sys["favorite_color"]] != "violet" || l["city"] != "Chicago" {
			t.Fatalf("after a late older event pat = %v, want violet/Chicago", l)
		}

		// Two webhook deliveries within one second, the older redelivered
		// after the newer was written (a crash before its ack): receipt
		// times order them to the nanosecond.
		t1 := t0.Add(20*time.Minute + 300*time.Millisecond)
		h.publish(1, t1.Add(400*time.Millisecond), base("second", "Denver"))
		h.settle(9)
		h.publish(1, t1, base("first", "Dallas"))
		h.settle(10)
		if l := h.lead("pat@example.com"); l[h.sys["favorite_color"]] != "second" || l["city"] != "Denver" {
			t.Fatalf("after an older delivery of the same second pat = %v, want second/Denver", l)
		}
		h.assertOneLeadPerEmail()
	})
}

func TestPartialUpdateLeavesOtherFieldsAlone(t *testing.T) {
	buses(t, func(t *testing.T, bus string) {
		h := newHarness(t, harnessOptions{bus: bus, linger: 50 * time.Millisecond})
		h.start()
		h.deliver(5, map[string]string{"Email": "kim@example.com", "FirstName": "Kim", "LastName": "Lee",
			"City": "Austin", "FavoriteColor": "teal", "Budget": "5000"})
		h.settle(1)
		h.deliver(5, map[string]string{"Email": "kim@example.com", "City": "Denver"})
		h.settle(2)
		l := h.lead("kim@example.com")
		if l["city"] != "Denver" || l["firstName"] != "Kim" || l["lastName"] != "Lee" || l[h.sys["favorite_color"]] != "teal" || l[h.sys["budget"]] != "5000" {
			t.Fatalf("after a partial update: %v", l)
		}
		// An explicit empty value clears the field.
		h.deliver(5, map[string]string{"Email": "kim@example.com", "Budget": ""})
		h.settle(3)
		if l := h.lead("kim@example.com"); l[h.sys["budget"]] != "" || l[h.sys["favorite_color"]] != "teal" {
			t.Fatalf("after clearing budget: %v", l)
		}
	})
}

func Test301BecomesUpdate(t *testing.T) {
	buses(t, func(t *testing.T, bus string) {
		h := newHarness(t, harnessOptions{bus: bus, linger: 50 * time.Millisecond})
		// The lead exists in SharpSpring already (entered there, and inactive),
		// unknown to crmsync: createLeads answers 301.
		id := h.sim.SeedLead(map[string]string{"emailAddress": "Existing@Example.com", "firstName": "Old"}, sharpspringsim.SeedInactive())
		h.start()
		h.deliver(9, map[string]string{"Email": "existing@example.com", "FirstName": "New", "City": "Reno"})
		h.settle(1)
		st := h.sim.Stats()
		if st.ErrorsByCode[301] != 1 || st.ByMethod["updateLeadsV2"] != 1 {
			t.Fatalf("want one 301 then one update, stats %+v", st)
		}
		leads := h.sim.Leads()
		if len(leads) != 1 || leads[0].ID != id {
			t.Fatalf("SharpSpring holds %d leads, want the one seeded", len(leads))
		}
		if l := h.lead("existing@example.com"); l["firstName"] != "New" || l["city"] != "Reno" {
			t.Fatalf("lead = %v", l)
		}
		// The id was learned: the next change is an update by id, no create.
		h.deliver(9, map[string]string{"Email": "existing@example.com", "FirstName": "Newer"})
		h.settle(2)
		if st := h.sim.Stats(); st.ByMethod["createLeads"] != 1 || st.ByMethod["updateLeadsV2"] != 2 {
			t.Fatalf("second change: %+v", st.ByMethod)
		}
		got, err := h.app.State.VendorKeys(context.Background(), "sharpspring", "lead", pipeline.KindID,
			[]string{pipeline.CanonicalID(pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: "id", Value: "9"})})
		if err != nil || got[pipeline.CanonicalID(pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: "id", Value: "9"})] != fmt.Sprint(id) {
			t.Fatalf("identity map = %v, %v", got, err)
		}
	})
}

func TestRateLimitAnswersAreRetriedAndNoSecondCarriesMoreThanTen(t *testing.T) {
	buses(t, func(t *testing.T, bus string) {
		h := newHarness(t, harnessOptions{bus: bus, batchSize: 10, linger: 20 * time.Millisecond, rate: 10})
		h.sim.Script("createLeads", sharpspringsim.Fault107, sharpspringsim.Fault107, sharpspringsim.Fault107)
		h.sim.SetFaults(sharpspringsim.Faults{Method: "updateLeadsV2", RateLimitRate: 0.3, Seed: 3})
		for i := 0; i < 300; i++ {
			h.publish(int64(i), time.Now(), leadFields(i))
		}
		h.start()
		h.settle(300)
		for i := 0; i < 300; i += 10 {
			f := leadFields(i)
			f["City"] = "Houston"
			h.publish(int64(i), time.Now(), f)
		}
		h.settle(330)
		st := h.sim.Stats()
		if st.ErrorsByCode[107] < 3 {
			t.Fatalf("expected 107 answers, got %v", st.ErrorsByCode)
		}
		if st.MaxInFixedSecond > 10 || st.MaxInSlidingSecond > 10 {
			t.Fatalf("a second carried more than 10 requests: fixed %d, sliding %d", st.MaxInFixedSecond, st.MaxInSlidingSecond)
		}
		if st.Requests < 30 {
			t.Fatalf("only %d requests: the test did not load the limit", st.Requests)
		}
		if n := h.assertOneLeadPerEmail(); n != 300 {
			t.Fatalf("%d leads, want 300", n)
		}
		if l := h.lead("lead10@example.com"); l["city"] != "Houston" {
			t.Fatalf("update lost: %v", l)
		}
		if dl, _ := h.app.State.CountDeadLetters(context.Background(), ""); dl != 0 {
			t.Fatalf("%d dead letters; 107 must never dead-letter", dl)
		}
	})
}

func TestOneBadObjectDeadLettersAlone(t *testing.T) {
	buses(t, func(t *testing.T, bus string) {
		h := newHarness(t, harnessOptions{bus: bus, linger: 300 * time.Millisecond})
		// The Budget field is deleted in SharpSpring after crmsync started, so
		// any lead carrying a budget is refused by SharpSpring (205).
		h.deleteField("budget")
		h.sim.ResetStats()
		for i := 0; i < 10; i++ {
			f := leadFields(i)
			if i == 4 {
				f["Budget"] = "9000"
			}
			h.publish(int64(i), time.Now(), f)
		}
		h.start()
		h.settle(10)
		if n := len(h.sim.Leads()); n != 9 {
			t.Fatalf("SharpSpring holds %d leads, want the 9 good ones", n)
		}
		if st := h.sim.Stats(); st.ByMethod["createLeads"] != 1 {
			t.Fatalf("the good leads were sent %d times: %+v", st.ByMethod["createLeads"], st.ByMethod)
		}
		dls, err := h.app.State.DeadLetters(context.Background(), pipeline.DeadLetterFilter{})
		if err != nil || len(dls) != 1 {
			t.Fatalf("dead letters = %d, %v", len(dls), err)
		}
		d := dls[0]
		if d.Code != "205" || d.Route != "le-ss" || d.Attempts != 1 || !strings.Contains(d.Message, "205") || !strings.Contains(string(d.Payload), "Lead4@Example.com") {
			t.Fatalf("dead letter = %+v", d)
		}
		if b, _, _ := h.app.Backlog(context.Background(), "le-ss"); b != 0 {
			t.Fatalf("the dead-lettered event was not acknowledged: backlog %d", b)
		}

		// Before the fix, the retry refuses to start and names the field.
		if _, err := NewOffline(context.Background(), h.cfg, nil2()); err == nil || !strings.Contains(err.Error(), h.sys["budget"]) {
			t.Fatalf("retry before the fix: %v", err)
		}
		// The mapping fix: the deleted field leaves the catalog. The retry
		// writes the lead and resolves the entry, while the instance runs.
		h.cfg.Catalog = h.cfg.Catalog[:1]
		off, err := NewOffline(context.Background(), h.cfg, nil2())
		if err != nil {
			t.Fatal(err)
		}
		defer off.Close()
		retried, err := off.RetryDeadLetters(context.Background(), pipeline.DeadLetterFilter{Code: "205"})
		if err != nil || len(retried) != 1 || !retried[0].Resolved || retried[0].Written != 1 {
			t.Fatalf("retry after the fix = %+v, %v", retried, err)
		}
		if l := h.lead("lead4@example.com"); l["firstName"] != "First4" {
			t.Fatalf("retried lead = %v", l)
		}
		all, _ := h.app.State.DeadLetters(context.Background(), pipeline.DeadLetterFilter{})
		statuses := map[string]int{}
		for _, d := range all {
			statuses[d.Status]++
		}
		if statuses["resolved"] != 1 || statuses["open"] != 0 || len(all) != 1 {
			t.Fatalf("dead letter history = %v", statuses)
		}
	})
}

func TestRetriedDeliveryCreatesNoDuplicate(t *testing.T) {
	buses(t, func(t *testing.T, bus string) {
		h := newHarness(t, harnessOptions{bus: bus, linger: 50 * time.Millisecond})
		h.start()
		s, err := leadexecsim.NewSender(leadexecsim.Delivery{URL: "http://" + h.app.Addr() + "/webhooks/leadexec",
			Format: leadexecsim.FormatJSON, BasicUser: hookUser, BasicPassword: hookPass, ResponseSearch: `"status":"success"`})
		if err != nil {
			t.Fatal(err)
		}
		leads := leadexecsim.GenerateLeads(20, 5, []string{"FavoriteColor"})
		for _, l := range leads[:5] {
			s.Duplicate(l.UID, 3)
		}
		for _, r := range s.DeliverAll(context.Background(), leads, 4) {
			if !r.Delivered {
				t.Fatalf("lead %d not delivered: %v", r.LeadUID, r.Err)
			}
		}
		h.settle(20)
		if got := h.app.Webhook().Duplicates; got != 15 {
			t.Fatalf("duplicates counted = %d, want 15", got)
		}
		if n := h.assertOneLeadPerEmail(); n != 20 {
			t.Fatalf("%d leads, want 20", n)
		}
		if got := h.app.Runners[0].Stats.Events.Load(); got != 20 {
			t.Fatalf("events = %d, want 20", got)
		}
	})
}

func TestStartupRefusesUnknownSystemName(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.app.close()
	h.cfg.Catalog[0].SharpSpring = "Favorite_Colour_0123456789abc"
	_, err := New(context.Background(), h.cfg, nil2())
	if err == nil || !strings.Contains(err.Error(), "Favorite_Colour_0123456789abc") {
		t.Fatalf("err = %v, want it to name the unknown system name", err)
	}
	h.app = nil
}

// One instance at a time runs on a SQLite state: a second one on the same
// data dir is refused, with what to do, and takes its place once the first
// stopped.
func TestSecondInstanceOnOneSQLiteStateIsRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.start()
	cfg := *h.cfg
	cfg.HTTP.Listen = "127.0.0.1:0"
	_, err := New(context.Background(), &cfg, nil2())
	if err == nil || !strings.Contains(err.Error(), "another crmsync instance runs on") ||
		!strings.Contains(err.Error(), "state.db") {
		t.Fatalf("second instance: err = %v, want it refused for the state file", err)
	}
	// Commands beside the running instance open the state unclaimed.
	off, err := NewOffline(context.Background(), &cfg, nil2())
	if err != nil {
		t.Fatalf("offline beside the instance: %v", err)
	}
	off.Close()
	h.stop()
	h.app = nil
	second, err := New(context.Background(), &cfg, nil2())
	if err != nil {
		t.Fatalf("instance after the first stopped: %v", err)
	}
	second.Close()
}

func TestBadCredentialsAreNeverLoggedAndKeepEvents(t *testing.T) {
	h := newHarness(t, harnessOptions{linger: 20 * time.Millisecond})
	h.start()
	h.deliver(1, leadFields(1))
	h.settle(1)
	h.stop()
	// The key is rotated in SharpSpring but not in crmsync: start-up fails
	// with a clear message that does not contain the key.
	h.cfg.SharpSpring.SecretKey = "rotated-key-DO-NOT-LOG"
	_, err := New(context.Background(), h.cfg, nil2())
	if err == nil || strings.Contains(err.Error(), "rotated-key-DO-NOT-LOG") || strings.Contains(err.Error(), testSecret) {
		t.Fatalf("err = %v", err)
	}
	var se *sharpspring.Error
	if !errors.As(err, &se) || se.HTTPStatus != 401 {
		t.Fatalf("err = %#v, want the HTTP 401", err)
	}
	h.cfg.SharpSpring.SecretKey = testSecret
	h.open()
	h.start()
}

func TestTransportErrorsDoNotLeakTheSecret(t *testing.T) {
	c, err := sharpspring.New(sharpspring.Config{Endpoint: "http://127.0.0.1:1/pubapi/v1.2/", AccountID: "1", SecretKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFields(context.Background())
	if err == nil || strings.Contains(err.Error(), testSecret) || strings.Contains(fmt.Sprintf("%#v", err), testSecret) {
		t.Fatalf("err = %v", err)
	}
	if apierr.Classify(err) != apierr.Transient {
		t.Fatalf("connection refused classified %v", apierr.Classify(err))
	}
}

func TestQuotaExhaustedPausesWithoutDeadLetters(t *testing.T) {
	buses(t, func(t *testing.T, bus string) {
		h := newHarness(t, harnessOptions{bus: bus, linger: 20 * time.Millisecond})
		// Each start-up spends one request on getFields: two are spent when
		// the instance below starts, two are left for leads.
		h.cfg.SharpSpring.DailyQuota = 4
		h.app.close()
		h.open()
		h.start()
		for i := 0; i < 3; i++ {
			h.deliver(int64(i), leadFields(i))
			h.waitFor("lead written", func() bool { return len(h.sim.Leads()) == min(i+1, 2) })
		}
		used, _ := h.app.State.QuotaUsed(context.Background(), "sharpspring:"+testAccount, time.Now())
		if used != 4 {
			t.Fatalf("quota used = %d, want 4", used)
		}
		// The third lead waits for tomorrow: not written, not dead-lettered, not acknowledged.
		h.waitFor("third event pending", func() bool { return h.app.Runners[0].Stats.Events.Load() >= 3 })
		if n := len(h.sim.Leads()); n != 2 {
			t.Fatalf("%d leads written past the quota", n)
		}
		if dl, _ := h.app.State.CountDeadLetters(context.Background(), ""); dl != 0 {
			t.Fatalf("quota dead-lettered %d", dl)
		}
		h.waitFor("a log line saying the quota is spent", func() bool { return strings.Contains(h.logs.String(), "daily quota spent") })
		if n := len(h.sim.Leads()); n != 2 {
			t.Fatalf("%d leads written past the quota", n)
		}
	})
}

func TestReplayWritesOnlyWhatDrifted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, harnessOptions{linger: 30 * time.Millisecond})
	h.start()
	for i := 0; i < 20; i++ {
		h.deliver(int64(i), leadFields(i))
	}
	h.settle(20)
	off, bus := openOffline(t, h.cfg)
	writes := h.leadWrites
	before := writes()

	// From sequence 1, with nothing changed: nothing to write.
	sum, err := off.Replay(ctx, bus, ReplayOptions{Route: "le-ss", FromSeq: 1})
	if err != nil || sum.Events != 20 || sum.Changed != 0 || sum.Written != 0 || writes() != before {
		t.Fatalf("replay of unchanged history: %+v, %v; writes %d → %d", sum, err, before, writes())
	}

	// Someone edits a lead in SharpSpring. The dry run shows exactly that.
	lead := h.lead("lead3@example.com")
	h.editLead("lead3@example.com", map[string]string{"firstName": "Edited"})
	before = writes()
	sum, err = off.Replay(ctx, bus, ReplayOptions{Route: "le-ss", FromSeq: 1, DryRun: true})
	if err != nil || sum.Changed != 1 || len(sum.Diffs) != 1 || writes() != before {
		t.Fatalf("dry run: %+v, %v", sum, err)
	}
	d := sum.Diffs[0]
	if len(d.Fields) != 1 || d.Fields["firstName"] != [2]string{"Edited", "First3"} || d.TargetID != lead["id"] {
		t.Fatalf("dry-run diff = %+v", d)
	}
	if h.lead("lead3@example.com")["firstName"] != "Edited" {
		t.Fatal("the dry run wrote")
	}
	// The real replay puts it back, with one write.
	sum, err = off.Replay(ctx, bus, ReplayOptions{Route: "le-ss", FromSeq: 1, EntityID: "3"})
	if err != nil || sum.Events != 1 || sum.Written != 1 || writes() != before+1 {
		t.Fatalf("replay: %+v, %v", sum, err)
	}
	if got := h.lead("lead3@example.com")["firstName"]; got != "First3" {
		t.Fatalf("after replay firstName = %q", got)
	}

	// A named checkpoint replays only what came after it.
	if _, err := off.SaveCheckpoint(ctx, bus, "before-batch-2"); err != nil {
		t.Fatal(err)
	}
	h.deliver(100, leadFields(100))
	h.deliver(101, leadFields(101))
	h.settle(22)
	sum, err = off.Replay(ctx, bus, ReplayOptions{Route: "le-ss", Checkpoint: "before-batch-2", DryRun: true})
	if err != nil || sum.Events != 2 || sum.Changed != 0 {
		t.Fatalf("replay from checkpoint: %+v, %v", sum, err)
	}
}

func TestFieldsAreCheckedOnASchedule(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.app.close()
	h.cfg.SharpSpring.FieldCheckInterval = config.Duration(100 * time.Millisecond)
	h.open()
	h.start()
	// A renamed label: a warning, nothing breaks.
	h.sim.RenameField(h.sys["favorite_color"], "Colour (renamed)")
	h.waitFor("a warning about the renamed label", func() bool { return strings.Contains(h.logs.String(), "Colour (renamed)") })
	// A deleted field: an error naming it.
	h.deleteField("budget")
	h.waitFor("an error naming the deleted field", func() bool {
		return strings.Contains(h.logs.String(), "level=ERROR") && strings.Contains(h.logs.String(), h.sys["budget"])
	})
	h.deliver(1, leadFields(1))
	h.settle(1)
}
