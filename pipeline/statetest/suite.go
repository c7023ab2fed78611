// Package statetest is the conformance suite of pipeline.State: every state
// backend runs it, so the route, sources and sinks can rely on the contract
// written on pipeline.State and its parts, whatever keeps the state.
//
//	func TestConformance(t *testing.T) {
//		statetest.Run(t, func(t *testing.T) pipeline.State { return openMyState(t) })
//	}
package statetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// Open returns a new, empty state for one test; the test closes it (or the
// opener registers t.Cleanup for it).
type Open func(t *testing.T) pipeline.State

// Run runs every conformance test against states made by open, each on a
// fresh state.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, pipeline.State)
	}{
		{"ResolveAllAssignsDerivedIDsAndLinksNewKeys", testResolveAll},
		{"ResolveAllNeverMovesAnOwnedKey", testResolveKeepsOwners},
		{"ResolveAllKeepsAStoredIDOfAnyForm", testResolveKeepsStoredForm},
		{"ResolveAllRefusesAListWithoutUsableKey", testResolveNoKey},
		{"LookupOfAnUnknownKeyIsNotFound", testLookupNotFound},
		{"SettleLinksMoveKeysAndVendorKeysGiveTheNewest", testSettleLinks},
		{"LedgerEntriesRoundTripAndTheLastPutWins", testLedger},
		{"LedgerUpdatesSeeTheStoredEntryAndLoseNoConcurrentUpdate", testLedgerUpdates},
		{"SettleStoresDeadLettersAndMovesThePosition", testSettleDeadLetters},
		{"DeadLettersFilterCountAndStatus", testDeadLetterQueries},
		{"CursorsRoundTrip", testCursors},
		{"ReceiptsRoundTripAndSurviveConcurrentWriters", testReceipts},
		{"RateWindowNeverAdmitsMoreThanTheLimitInASpan", testRateWindow},
		{"RateWindowHoldsUnderConcurrentTakers", testRateWindowConcurrent},
		{"RateWindowCountsARequestFromItsAnswer", testRateWindowAnswers},
		{"QuotaCountsPerAccountAndUTCDay", testQuota},
		{"TakeQuotaStopsAtTheLimitUnderConcurrentTakers", testTakeQuotaConcurrent},
		{"NamedCheckpointsRoundTrip", testCheckpoints},
		{"BackfillRunsAreKeptPerSourceAndRange", testBackfillRuns},
		{"LeasesGoToOneHolderAtATime", testLeases},
		{"Ping", func(t *testing.T, s pipeline.State) {
			if err := s.Ping(context.Background()); err != nil {
				t.Fatalf("Ping on a fresh state: %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func key(vendor, kind, value string) pipeline.Key {
	return pipeline.Key{Vendor: vendor, Entity: "lead", Kind: kind, Value: value}
}

func resolve(t *testing.T, s pipeline.State, keys ...[]pipeline.Key) []string {
	t.Helper()
	ids, err := s.ResolveAll(context.Background(), keys)
	if err != nil {
		t.Fatalf("ResolveAll: %v", err)
	}
	if len(ids) != len(keys) {
		t.Fatalf("ResolveAll returned %d ids for %d key lists", len(ids), len(keys))
	}
	return ids
}

func lookup(t *testing.T, s pipeline.State, k pipeline.Key) string {
	t.Helper()
	id, err := s.Lookup(context.Background(), k)
	if err != nil {
		t.Fatalf("Lookup(%v): %v", k, err)
	}
	return id
}

func testResolveAll(t *testing.T, s pipeline.State) {
	le1, em1 := key("leadexec", pipeline.KindID, "1"), key("sharpspring", pipeline.KindEmail, "ann@example.com")
	le2, em2 := key("leadexec", pipeline.KindID, "2"), key("sharpspring", pipeline.KindEmail, "bob@example.com")
	le3 := key("leadexec", pipeline.KindID, "3")
	// An empty value is skipped, also as the first key: the id derives
	// from the first usable one.
	ids := resolve(t, s,
		[]pipeline.Key{le1, em1},
		[]pipeline.Key{key("leadexec", pipeline.KindID, ""), le2, em2},
		// A key linked by an earlier list in the same call counts as linked.
		[]pipeline.Key{le3, em1},
	)
	if want := pipeline.CanonicalID(le1); ids[0] != want {
		t.Errorf("first record's id = %s, want the id derived from its first key %s", ids[0], want)
	}
	if want := pipeline.CanonicalID(le2); ids[1] != want {
		t.Errorf("second record's id = %s, want %s (the empty key skipped)", ids[1], want)
	}
	if ids[2] != ids[0] {
		t.Errorf("a list sharing an email with an earlier list got %s, want %s", ids[2], ids[0])
	}
	for k, want := range map[pipeline.Key]string{le1: ids[0], em1: ids[0], le2: ids[1], em2: ids[1], le3: ids[0]} {
		if got := lookup(t, s, k); got != want {
			t.Errorf("Lookup(%v) = %s, want %s", k, got, want)
		}
	}
	if _, err := s.Lookup(context.Background(), key("leadexec", pipeline.KindID, "")); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("an empty key was linked: Lookup err = %v", err)
	}
	// Resolving again is stable.
	again := resolve(t, s, []pipeline.Key{em2}, []pipeline.Key{le1})
	if again[0] != ids[1] || again[1] != ids[0] {
		t.Errorf("resolving known keys again gave %v, want [%s %s]", again, ids[1], ids[0])
	}
}

// testResolveKeepsStoredForm: a record an older crmsync created keeps the
// id it was given then (a hash of its first key, whatever that key looks
// like), and keys seen later join it; only a new record gets a derived id.
func testResolveKeepsStoredForm(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	le, email := key("leadexec", pipeline.KindID, "7000000001"), key("sharpspring", pipeline.KindEmail, "ann@example.com")
	const older = "c3b9f1d2a4e5c6b7a8d9e0f1" // 24 hex digits: the hashed form
	if _, err := s.Settle(ctx, pipeline.Settlement{Links: []pipeline.Link{{CanonicalID: older, Key: le}}}); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	fresh := key("leadexec", pipeline.KindID, "7000000002")
	ids := resolve(t, s, []pipeline.Key{le, email}, []pipeline.Key{fresh})
	if ids[0] != older {
		t.Errorf("a record linked to %s resolved to %s", older, ids[0])
	}
	if got := lookup(t, s, email); got != older {
		t.Errorf("a key seen later joined %s, want the stored %s", got, older)
	}
	if want := pipeline.CanonicalID(fresh); ids[1] != want || ids[1] == older {
		t.Errorf("a new record got %s, want its derived id %s", ids[1], want)
	}
}

func testResolveKeepsOwners(t *testing.T, s pipeline.State) {
	a, b := key("leadexec", pipeline.KindID, "1"), key("leadexec", pipeline.KindID, "2")
	email := key("sharpspring", pipeline.KindEmail, "shared@example.com")
	ids := resolve(t, s, []pipeline.Key{a, email}, []pipeline.Key{b})
	// b's list now names an email that belongs to a: the first owned key
	// decides (b's own), and the email keeps its owner.
	got := resolve(t, s, []pipeline.Key{b, email})
	if got[0] != ids[1] {
		t.Errorf("resolved to %s, want b's own id %s", got[0], ids[1])
	}
	if owner := lookup(t, s, email); owner != ids[0] {
		t.Errorf("ResolveAll moved an owned key: email now points at %s, want %s", owner, ids[0])
	}
}

func testResolveNoKey(t *testing.T, s pipeline.State) {
	_, err := s.ResolveAll(context.Background(), [][]pipeline.Key{
		{key("leadexec", pipeline.KindID, "1")},
		{key("leadexec", pipeline.KindID, "")},
	})
	if err == nil {
		t.Fatal("ResolveAll accepted a key list without a usable key")
	}
}

func testLookupNotFound(t *testing.T, s pipeline.State) {
	if _, err := s.Lookup(context.Background(), key("ivvy", pipeline.KindID, "404")); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("Lookup of an unknown key: err = %v, want ErrNotFound", err)
	}
}

func testSettleLinks(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	le := key("leadexec", pipeline.KindID, "7")
	ids := resolve(t, s, []pipeline.Key{le}, []pipeline.Key{key("leadexec", pipeline.KindID, "8")})
	target := func(v string) pipeline.Key { return key("sharpspring", pipeline.KindID, v) }
	_, err := s.Settle(ctx, pipeline.Settlement{Links: []pipeline.Link{
		{CanonicalID: ids[0], Key: target("100")},
		{CanonicalID: ids[1], Key: target("200")},
		// Listed twice: the last entry wins.
		{CanonicalID: ids[0], Key: target("200")},
	}})
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if got := lookup(t, s, target("200")); got != ids[0] {
		t.Errorf("a key linked twice in one settlement points at %s, want the last entry's %s", got, ids[0])
	}
	// Later settlements move a key, and VendorKeys gives the newest value.
	if _, err := s.Settle(ctx, pipeline.Settlement{Links: []pipeline.Link{{CanonicalID: ids[0], Key: target("300")}}}); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	got, err := s.VendorKeys(ctx, "sharpspring", "lead", pipeline.KindID, []string{ids[0], ids[1], "cmissing"})
	if err != nil {
		t.Fatalf("VendorKeys: %v", err)
	}
	if got[ids[0]] != "300" {
		t.Errorf("VendorKeys gave %q for the record, want the newest link %q", got[ids[0]], "300")
	}
	if v, ok := got[ids[1]]; ok {
		t.Errorf("VendorKeys gave %q for a record whose only target key moved away", v)
	}
	if _, ok := got["cmissing"]; ok {
		t.Error("VendorKeys answered for an unknown canonical id")
	}
}

func testLedger(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 10, 0, 0, 123000000, time.UTC)
	seen := at.Add(time.Minute)
	entry := pipeline.LedgerEntry{ContentHash: "h1", Fields: map[string]pipeline.FieldStamp{
		"firstName": {At: at, Hash: "a", Wrote: []string{"leadexec:a"}},
		"lastName":  {At: at, Hash: "", Seen: seen},
	}}
	other := pipeline.LedgerEntry{ContentHash: "h2", Fields: map[string]pipeline.FieldStamp{"firstName": {At: at, Hash: "b"}}}
	err := s.PutLedgers(ctx, []pipeline.LedgerPut{
		{Vendor: "sharpspring", Entity: "lead", Key: "c1", Entry: other},
		{Vendor: "sharpspring", Entity: "lead", Key: "c1", Entry: entry}, // the last put wins
		{Vendor: "ivvy", Entity: "lead", Key: "c1", Entry: other},        // another target: its own entry
	})
	if err != nil {
		t.Fatalf("PutLedgers: %v", err)
	}
	got, err := s.Ledger(ctx, "sharpspring", "lead", []string{"c1", "c2"})
	if err != nil {
		t.Fatalf("Ledger: %v", err)
	}
	if _, ok := got["c2"]; ok {
		t.Error("Ledger answered for a record without an entry")
	}
	e, ok := got["c1"]
	if !ok {
		t.Fatal("Ledger lost the entry")
	}
	if e.ContentHash != "h1" {
		t.Errorf("content hash = %q, want the last put's %q", e.ContentHash, "h1")
	}
	if e.UpdatedAt.IsZero() {
		t.Error("the state did not set UpdatedAt")
	}
	fn, ln := e.Fields["firstName"], e.Fields["lastName"]
	if !fn.At.Equal(at) || fn.Hash != "a" || !slices.Equal(fn.Wrote, []string{"leadexec:a"}) || !fn.Seen.IsZero() {
		t.Errorf("firstName stamp = %+v", fn)
	}
	if !ln.Seen.Equal(seen) || ln.Hash != "" {
		t.Errorf("lastName stamp = %+v", ln)
	}
	iv, err := s.Ledger(ctx, "ivvy", "lead", []string{"c1"})
	if err != nil || iv["c1"].ContentHash != "h2" {
		t.Errorf("another target's entry = %+v, %v", iv["c1"], err)
	}
	if err := s.PutLedgers(ctx, nil); err != nil {
		t.Errorf("PutLedgers of nothing: %v", err)
	}
}

// addField is a ledger update that adds one field to whatever is stored.
func addField(f, hash string) func(pipeline.LedgerEntry) (pipeline.LedgerEntry, bool) {
	return func(e pipeline.LedgerEntry) (pipeline.LedgerEntry, bool) {
		fields := map[string]pipeline.FieldStamp{}
		for k, v := range e.Fields {
			fields[k] = v
		}
		fields[f] = pipeline.FieldStamp{Hash: hash}
		e.Fields = fields
		return e, true
	}
}

func testLedgerUpdates(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	put := func(puts ...pipeline.LedgerPut) {
		t.Helper()
		if err := s.PutLedgers(ctx, puts); err != nil {
			t.Fatalf("PutLedgers: %v", err)
		}
	}
	get := func(key string) pipeline.LedgerEntry {
		t.Helper()
		got, err := s.Ledger(ctx, "sharpspring", "lead", []string{key})
		if err != nil {
			t.Fatalf("Ledger: %v", err)
		}
		return got[key]
	}
	up := func(key string, fn func(pipeline.LedgerEntry) (pipeline.LedgerEntry, bool)) pipeline.LedgerPut {
		return pipeline.LedgerPut{Vendor: "sharpspring", Entity: "lead", Key: key, Update: fn}
	}

	// An update of a record without an entry starts from the zero entry.
	put(up("c1", addField("firstName", "a")))
	// An update sees the stored entry; a plain put and an update of the
	// same record in one call apply in order.
	put(up("c1", addField("lastName", "b")),
		pipeline.LedgerPut{Vendor: "sharpspring", Entity: "lead", Key: "c2", Entry: pipeline.LedgerEntry{
			Fields: map[string]pipeline.FieldStamp{"email": {Hash: "e"}}}},
		up("c2", addField("phone", "p")),
		up("c1", addField("city", "c")))
	c1, c2 := get("c1"), get("c2")
	for f, h := range map[string]string{"firstName": "a", "lastName": "b", "city": "c"} {
		if c1.Fields[f].Hash != h {
			t.Errorf("c1 %s = %+v, want hash %q: an update lost what was stored before it", f, c1.Fields[f], h)
		}
	}
	if c2.Fields["email"].Hash != "e" || c2.Fields["phone"].Hash != "p" {
		t.Errorf("c2 = %+v; want the put's email and the update's phone", c2.Fields)
	}
	if c1.UpdatedAt.IsZero() {
		t.Error("the state did not set UpdatedAt of an updated entry")
	}
	// An update that declines leaves the entry as it was.
	put(up("c1", func(e pipeline.LedgerEntry) (pipeline.LedgerEntry, bool) {
		return pipeline.LedgerEntry{}, false
	}))
	if got := get("c1"); len(got.Fields) != 3 {
		t.Errorf("after a declined update c1 = %+v, want its three fields", got.Fields)
	}
	// Routes settle concurrently, each adding its own fields to entries
	// they share: no update undoes another.
	const writers, rounds = 8, 10
	allAtOnce(t, writers, rounds, func(w, r int) error {
		f := fmt.Sprintf("w%d-%d", w, r)
		if _, err := s.Settle(ctx, pipeline.Settlement{Ledger: []pipeline.LedgerPut{up("shared", addField(f, f))}}); err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		return nil
	})
	if got := get("shared"); len(got.Fields) != writers*rounds {
		t.Errorf("the shared entry has %d fields after %d concurrent updates, each adding one", len(got.Fields), writers*rounds)
	}
}

func deadLetter(route, code, rec string) pipeline.DeadLetter {
	return pipeline.DeadLetter{Route: route, Vendor: "sharpspring", Entity: "lead", RecordKey: rec,
		EventIDs: []string{"e-" + rec}, Payload: []byte(`{"firstName":"Ann"}`), Code: code,
		Message: "refused " + rec, Attempts: 3}
}

func testSettleDeadLetters(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	if pos, err := s.RoutePosition(ctx, "r1"); err != nil || pos != 0 {
		t.Fatalf("position of a new route = %d, %v; want 0", pos, err)
	}
	ids, err := s.Settle(ctx, pipeline.Settlement{
		DeadLetters: []pipeline.DeadLetter{deadLetter("r1", "205", "c1"), deadLetter("r1", "mapping", "c2")},
		Route:       "r1", Seq: 42,
	})
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if len(ids) != 2 || ids[0] <= 0 || ids[1] <= 0 || ids[0] == ids[1] {
		t.Fatalf("dead letter ids = %v, want two distinct positive ids", ids)
	}
	if pos, err := s.RoutePosition(ctx, "r1"); err != nil || pos != 42 {
		t.Errorf("position = %d, %v; want 42", pos, err)
	}
	// Seq 0 leaves the position alone (retries and replays settle outside
	// the stream).
	if _, err := s.Settle(ctx, pipeline.Settlement{Route: "r1"}); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if pos, _ := s.RoutePosition(ctx, "r1"); pos != 42 {
		t.Errorf("a settlement without a sequence moved the position to %d", pos)
	}
	d, err := s.DeadLetter(ctx, ids[0])
	if err != nil {
		t.Fatalf("DeadLetter(%d): %v", ids[0], err)
	}
	want := deadLetter("r1", "205", "c1")
	if d.ID != ids[0] || d.Route != want.Route || d.Vendor != want.Vendor || d.Entity != want.Entity ||
		d.RecordKey != want.RecordKey || !slices.Equal(d.EventIDs, want.EventIDs) || string(d.Payload) != string(want.Payload) ||
		d.Code != want.Code || d.Message != want.Message || d.Attempts != want.Attempts {
		t.Errorf("dead letter = %+v, want %+v", d, want)
	}
	if d.Status != pipeline.DeadLetterOpen || d.CreatedAt.IsZero() {
		t.Errorf("a new dead letter has status %q, created %v", d.Status, d.CreatedAt)
	}
	if _, err := s.DeadLetter(ctx, ids[1]+1000); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("DeadLetter of an unknown id: err = %v, want ErrNotFound", err)
	}
}

func testDeadLetterQueries(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	ids, err := s.Settle(ctx, pipeline.Settlement{DeadLetters: []pipeline.DeadLetter{
		deadLetter("r1", "205", "c1"), deadLetter("r1", "301", "c2"), deadLetter("r2", "205", "c3"),
	}})
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	list := func(f pipeline.DeadLetterFilter) []string {
		t.Helper()
		ds, err := s.DeadLetters(ctx, f)
		if err != nil {
			t.Fatalf("DeadLetters(%+v): %v", f, err)
		}
		var recs []string
		for _, d := range ds {
			recs = append(recs, d.RecordKey)
		}
		return recs
	}
	for _, tc := range []struct {
		f    pipeline.DeadLetterFilter
		want []string
	}{
		{pipeline.DeadLetterFilter{}, []string{"c1", "c2", "c3"}},
		{pipeline.DeadLetterFilter{Route: "r1"}, []string{"c1", "c2"}},
		{pipeline.DeadLetterFilter{Code: "205"}, []string{"c1", "c3"}},
		{pipeline.DeadLetterFilter{Route: "r1", Code: "205"}, []string{"c1"}},
		{pipeline.DeadLetterFilter{ID: ids[1]}, []string{"c2"}},
	} {
		if got := list(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("DeadLetters(%+v) = %v, want %v (oldest first)", tc.f, got, tc.want)
		}
	}
	if err := s.SetDeadLetterStatus(ctx, ids[0], pipeline.DeadLetterResolved); err != nil {
		t.Fatalf("SetDeadLetterStatus: %v", err)
	}
	if got := list(pipeline.DeadLetterFilter{Status: pipeline.DeadLetterOpen}); !slices.Equal(got, []string{"c2", "c3"}) {
		t.Errorf("open dead letters after resolving c1 = %v", got)
	}
	for route, want := range map[string]int{"": 2, "r1": 1, "r2": 1, "r3": 0} {
		if n, err := s.CountDeadLetters(ctx, route); err != nil || n != want {
			t.Errorf("CountDeadLetters(%q) = %d, %v; want %d open", route, n, err, want)
		}
	}
	if err := s.SetDeadLetterStatus(ctx, ids[2]+1000, pipeline.DeadLetterRetried); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("SetDeadLetterStatus of an unknown id: err = %v, want ErrNotFound", err)
	}
}

func testCursors(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	if _, _, err := s.Cursor(ctx, "ivvy.lead"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("Cursor of a new source: err = %v, want ErrNotFound", err)
	}
	before := time.Now().Add(-time.Second)
	for _, c := range []struct{ source, cursor string }{
		{"sharpspring.lead", "2026-11-23T10:00:00Z"}, {"ivvy.lead", `{"from":"x"}`}, {"ivvy.lead", `{"from":"y"}`},
	} {
		if err := s.SetCursor(ctx, c.source, c.cursor); err != nil {
			t.Fatalf("SetCursor: %v", err)
		}
	}
	cur, updated, err := s.Cursor(ctx, "ivvy.lead")
	if err != nil || cur != `{"from":"y"}` {
		t.Fatalf("Cursor = %q, %v; want the last one set", cur, err)
	}
	if updated.Before(before) {
		t.Errorf("cursor updated at %v, before it was set (%v)", updated, before)
	}
	all, err := s.Cursors(ctx)
	if err != nil {
		t.Fatalf("Cursors: %v", err)
	}
	var sources []string
	for _, c := range all {
		sources = append(sources, c.Source)
	}
	if !slices.Equal(sources, []string{"ivvy.lead", "sharpspring.lead"}) {
		t.Errorf("Cursors lists %v, want both sources ordered", sources)
	}
}

func testReceipts(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	if _, err := s.Delivery(ctx, "leadexec", "lead", "1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("Delivery of a new record: err = %v, want ErrNotFound", err)
	}
	// Receipts recorded at once by many webhook handlers are each durable
	// when their call returns.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.RecordDelivery(ctx, "leadexec", "lead", fmt.Sprint(i), fmt.Sprint("h", i), fmt.Sprint("e", i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("RecordDelivery: %v", err)
		}
	}
	for i := range 64 {
		if h, err := s.Delivery(ctx, "leadexec", "lead", fmt.Sprint(i)); err != nil || h != fmt.Sprint("h", i) {
			t.Fatalf("Delivery(%d) = %q, %v", i, h, err)
		}
	}
	if err := s.RecordDelivery(ctx, "leadexec", "lead", "1", "newer", "e-newer"); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Delivery(ctx, "leadexec", "lead", "1"); h != "newer" {
		t.Errorf("Delivery after a newer receipt = %q", h)
	}
	if _, err := s.Delivery(ctx, "ivvy", "lead", "1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("a receipt leaked to another vendor: err = %v", err)
	}
}

func testRateWindow(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	const limit, span = 3, time.Second
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	take := func(account string, at time.Time) (bool, time.Duration) {
		t.Helper()
		ok, wait, err := s.TakeSlot(ctx, account, at, limit, span)
		if err != nil {
			t.Fatalf("TakeSlot: %v", err)
		}
		return ok, wait
	}
	for i := range limit {
		if ok, _ := take("ss:1", t0.Add(time.Duration(i)*100*time.Millisecond)); !ok {
			t.Fatalf("slot %d of %d refused", i+1, limit)
		}
	}
	at := t0.Add(500 * time.Millisecond)
	ok, wait := take("ss:1", at)
	if ok {
		t.Fatalf("a %d-th request within %v was admitted", limit+1, span)
	}
	// The oldest slot leaves the window at t0+span: wait until then.
	if wait <= 0 || wait > span || at.Add(wait).Before(t0.Add(span)) {
		t.Errorf("wait = %v at %v; the first slot leaves the window at %v", wait, at, t0.Add(span))
	}
	if ok, _ := take("ss:2", at); !ok {
		t.Error("another account's window is not its own")
	}
	if ok, _ := take("ss:1", t0.Add(span+time.Millisecond)); !ok {
		t.Error("a slot was refused after the oldest left the window")
	}
}

func testRateWindowAnswers(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	const limit, span = 3, time.Second
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	take := func(account string, at time.Time) bool {
		t.Helper()
		ok, _, err := s.TakeSlot(ctx, account, at, limit, span)
		if err != nil {
			t.Fatalf("TakeSlot: %v", err)
		}
		return ok
	}
	answer := func(account string, sent, answered time.Time) {
		t.Helper()
		if err := s.AnswerSlot(ctx, account, sent, answered); err != nil {
			t.Fatalf("AnswerSlot: %v", err)
		}
	}
	for i := range limit {
		if !take("ss:1", ms(100*i)) {
			t.Fatalf("slot %d of %d refused", i+1, limit)
		}
	}
	// All three were answered at 500 ms; the first is answered as sent
	// a little before its slot (a taker that retried stands later).
	answer("ss:1", ms(-5), ms(500))
	answer("ss:1", ms(100), ms(500))
	answer("ss:1", ms(200), ms(500))
	if take("ss:1", ms(1300)) {
		t.Fatal("a request was admitted within a second of three answers")
	}
	if !take("ss:1", ms(1501)) {
		t.Fatal("a request was refused a second after the answers")
	}
	// A request whose slot left the window before its answer came counts
	// from its answer.
	if !take("ss:2", ms(0)) || !take("ss:2", ms(1200)) {
		t.Fatal("a slot of ss:2 refused")
	}
	answer("ss:2", ms(0), ms(1100))
	if !take("ss:2", ms(1300)) || take("ss:2", ms(1400)) {
		t.Fatal("a request answered after its slot left the window does not count from its answer")
	}
}

func testRateWindowConcurrent(t *testing.T, s pipeline.State) {
	const limit = 5
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if n := TakeSlotsAtOnce(t, []pipeline.RateWindow{s, s, s, s}, "ss:1", now, 5, limit); n != limit {
		t.Fatalf("%d of 20 concurrent takers admitted in one instant, want exactly %d", n, limit)
	}
}

// TakeSlotsAtOnce has every taker, each from its own goroutine, take n
// slots of account's one-second rate window with the given limit, all at
// the instant now, and returns how many were admitted. A taker may stand
// more than once in takers (two connections of one instance); an error
// fails the test and ends that taker.
func TakeSlotsAtOnce(t testing.TB, takers []pipeline.RateWindow, account string, now time.Time, n, limit int) int {
	ctx := context.Background()
	return admittedAtOnce(t, len(takers), n, func(i int) (bool, error) {
		ok, _, err := takers[i].TakeSlot(ctx, account, now, limit, time.Second)
		return ok, err
	})
}

// admittedAtOnce runs workers goroutines at once, worker i calling take(i)
// tries times, and returns how many calls were admitted. An error ends that
// worker and fails the test.
func admittedAtOnce(t testing.TB, workers, tries int, take func(i int) (bool, error)) int {
	var admitted atomic.Int32
	allAtOnce(t, workers, tries, func(w, _ int) error {
		ok, err := take(w)
		if ok {
			admitted.Add(1)
		}
		return err
	})
	return int(admitted.Load())
}

func testQuota(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	day := time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC)
	next := day.Add(2 * time.Minute)
	if n, err := s.QuotaUsed(ctx, "ss:1", day); err != nil || n != 0 {
		t.Fatalf("QuotaUsed of a new account = %d, %v", n, err)
	}
	if n, err := s.AddQuota(ctx, "ss:1", day, 3); err != nil || n != 3 {
		t.Fatalf("AddQuota = %d, %v; want 3", n, err)
	}
	// The same UTC day in another zone counts on the same day.
	est := day.In(time.FixedZone("EST", -5*3600))
	if n, err := s.AddQuota(ctx, "ss:1", est, 2); err != nil || n != 5 {
		t.Fatalf("AddQuota = %d, %v; want 5", n, err)
	}
	if n, _ := s.QuotaUsed(ctx, "ss:1", next); n != 0 {
		t.Errorf("the next UTC day starts at %d, want 0", n)
	}
	if n, _ := s.QuotaUsed(ctx, "ss:2", day); n != 0 {
		t.Errorf("another account used %d", n)
	}
	ok, used, err := s.TakeQuota(ctx, "ss:1", day, 6)
	if err != nil || !ok || used != 6 {
		t.Fatalf("TakeQuota below the limit = %v, %d, %v; want true, 6", ok, used, err)
	}
	ok, used, err = s.TakeQuota(ctx, "ss:1", day, 6)
	if err != nil || ok || used != 6 {
		t.Fatalf("TakeQuota at the limit = %v, %d, %v; want false, 6", ok, used, err)
	}
	if n, _ := s.QuotaUsed(ctx, "ss:1", day); n != 6 {
		t.Errorf("a refused TakeQuota counted: used %d", n)
	}
}

func testTakeQuotaConcurrent(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	day := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const limit = 7
	n := admittedAtOnce(t, 4, 5, func(int) (bool, error) {
		ok, _, err := s.TakeQuota(ctx, "ss:1", day, limit)
		return ok, err
	})
	if n != limit {
		t.Errorf("%d of 20 concurrent requests admitted against a limit of %d", n, limit)
	}
	if n, _ := s.QuotaUsed(ctx, "ss:1", day); n != limit {
		t.Errorf("used = %d, want %d", n, limit)
	}
}

func testCheckpoints(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	if _, _, err := s.Checkpoint(ctx, "before-import"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("Checkpoint of an unknown name: err = %v, want ErrNotFound", err)
	}
	if err := s.SaveCheckpoint(ctx, "before-import", pipeline.Position{Seq: 10}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCheckpoint(ctx, "before-import", pipeline.Position{Seq: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	pos, at, err := s.Checkpoint(ctx, "before-import")
	if err != nil || pos.Seq != 1<<40 || pos.Offsets != nil || at.IsZero() {
		t.Fatalf("Checkpoint = %+v, %v, %v; want the moved position", pos, at, err)
	}
	// A Kafka position: offsets per topic and partition.
	kafka := pipeline.Position{Offsets: map[string]map[int]int64{
		"crm.lead.sharpspring": {0: 12, 1: 0, 2: 1 << 40},
		"crm.lead.ivvy":        {0: 7},
	}}
	if err := s.SaveCheckpoint(ctx, "kafka", kafka); err != nil {
		t.Fatal(err)
	}
	pos, _, err = s.Checkpoint(ctx, "kafka")
	if err != nil || pos.String() != kafka.String() || pos.Seq != 0 {
		t.Fatalf("Checkpoint = %s, %v; want %s", pos, err, kafka)
	}
}

func testBackfillRuns(t *testing.T, s pipeline.State) {
	ctx := context.Background()
	if _, err := s.BackfillRun(ctx, "sharpspring.lead", "", ""); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("BackfillRun of a new source: err = %v, want ErrNotFound", err)
	}
	started := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	run := pipeline.BackfillRun{Source: "sharpspring.lead", Since: "2025-01-01", Cursor: "p3", Published: 1500, Pages: 3, StartedAt: started}
	if err := s.SaveBackfillRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	run.Cursor, run.Pages, run.Published, run.Done = "p4", 4, 1800, true
	if err := s.SaveBackfillRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	got, err := s.BackfillRun(ctx, "sharpspring.lead", "2025-01-01", "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Cursor != "p4" || got.Pages != 4 || got.Published != 1800 || !got.Done || !got.StartedAt.Equal(started) {
		t.Errorf("run = %+v, want the last saved progress", got)
	}
	if _, err := s.BackfillRun(ctx, "sharpspring.lead", "", ""); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("another range of the same source shares the run: err = %v", err)
	}
}

// testLeases runs for states shared by instances (pipeline.Leases).
func testLeases(t *testing.T, st pipeline.State) {
	s, ok := st.(pipeline.Leases)
	if !ok {
		t.Skip("this state is one instance's own: it hands out no leases")
	}
	ctx := context.Background()
	take := func(holder string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.TryLease(ctx, "source:ivvy.lead", holder, ttl)
		if err != nil {
			t.Fatalf("TryLease(%s): %v", holder, err)
		}
		return ok
	}
	if !take("a", time.Minute) {
		t.Fatal("a free lease was refused")
	}
	if take("b", time.Minute) {
		t.Fatal("a lease held by a was given to b")
	}
	if !take("a", time.Minute) {
		t.Fatal("the holder could not renew its lease")
	}
	if ok, err := s.TryLease(ctx, "source:getlead.lead", "b", time.Minute); err != nil || !ok {
		t.Fatalf("another lease's name is its own: %v, %v", ok, err)
	}
	if err := s.ReleaseLease(ctx, "source:ivvy.lead", "b"); err != nil {
		t.Fatal(err)
	}
	if take("b", time.Minute) {
		t.Fatal("a release by a non-holder freed the lease")
	}
	if err := s.ReleaseLease(ctx, "source:ivvy.lead", "a"); err != nil {
		t.Fatal(err)
	}
	if !take("b", time.Millisecond) {
		t.Fatal("a released lease was refused")
	}
	// An expired lease goes to whoever asks next.
	deadline := time.Now().Add(5 * time.Second)
	for !take("c", time.Minute) {
		if time.Now().After(deadline) {
			t.Fatal("an expired lease was never given to another holder")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Concurrent takers of a free lease: exactly one wins.
	var winners atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.TryLease(ctx, "source:leadexec.client", fmt.Sprint("h", i), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				winners.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := winners.Load(); n != 1 {
		t.Fatalf("%d of 8 concurrent takers got one lease", n)
	}
}

// RecordReceiptsAtOnce has writers goroutines record each receipts in
// turn, each writer's receipt i going to record "w<writer>-<i%10>" with
// hash "h<i>" (so each record gets each/10 receipts, in order), and checks
// that Delivery finds every receipt as soon as RecordDelivery returned.
// Record "w<w>-<k>" then ends with hash "h<each-10+k>" (CheckLastReceipts).
func RecordReceiptsAtOnce(t testing.TB, r pipeline.Receipts, writers, each int) {
	t.Helper()
	receiptsAtOnce(t, r, "recording", r.RecordDelivery, writers, each)
}

// QueueReceiptsAtOnce is RecordReceiptsAtOnce through QueueDelivery. What a
// state keeps after Close is the caller's to check (CheckLastReceipts).
func QueueReceiptsAtOnce(t testing.TB, q pipeline.QueuedReceipts, writers, each int) {
	t.Helper()
	receiptsAtOnce(t, q, "queueing", q.QueueDelivery, writers, each)
}

// receiptsAtOnce is RecordReceiptsAtOnce through write; verb names write in
// failures.
func receiptsAtOnce(t testing.TB, r pipeline.Receipts, verb string,
	write func(ctx context.Context, vendor, entity, externalID, contentHash, eventID string) error, writers, each int) {
	t.Helper()
	ctx := context.Background()
	allAtOnce(t, writers, each, func(w, i int) error {
		id := fmt.Sprintf("w%d-%d", w, i%10)
		if err := write(ctx, "leadexec", "lead", id, fmt.Sprintf("h%d", i), "ev"); err != nil {
			return err
		}
		if got, err := r.Delivery(ctx, "leadexec", "lead", id); err != nil || got != fmt.Sprintf("h%d", i) {
			return fmt.Errorf("%s right after %s h%d: %q, %v", id, verb, i, got, err)
		}
		return nil
	})
}

// allAtOnce runs writers goroutines at once, writer w calling do(w, i) for
// i from 0 to n-1 and stopping at its first error, and then fails the test
// with the writers' errors.
func allAtOnce(t testing.TB, writers, n int, do func(w, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := do(w, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// CheckLastReceipts checks that r holds, for each record QueueReceiptsAtOnce
// queued with the same writers and each, its last receipt.
func CheckLastReceipts(t testing.TB, r pipeline.Receipts, writers, each int) {
	t.Helper()
	for w := range writers {
		for k := range 10 {
			id := fmt.Sprintf("w%d-%d", w, k)
			if got, err := r.Delivery(context.Background(), "leadexec", "lead", id); err != nil || got != fmt.Sprintf("h%d", each-10+k) {
				t.Fatalf("%s = %q, %v; want the last receipt h%d", id, got, err, each-10+k)
			}
		}
	}
}
