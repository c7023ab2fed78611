package checkpoints

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// openAt opens the state file at path, failing t when it cannot. The
// caller closes it.
func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openTest opens a new state file, closed when the test ends.
func openTest(t testing.TB) *Store {
	t.Helper()
	s := openAt(t, filepath.Join(t.TempDir(), "state.db"))
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrationsApplyOnceAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openAt(t, path)
	ms, _ := loadMigrations()
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != ms[len(ms)-1].version {
		t.Fatalf("schema version = %d, %v; want %d", v, err, ms[len(ms)-1].version)
	}
	mustUpdate(t, s, func(tx *Tx) error { return tx.SetCursor(ctx, "sharpspring.lead", "2026-01-01 00:00:00") })
	s.Close()
	s = openAt(t, path)
	defer s.Close()
	c, _, err := s.Cursor(ctx, "sharpspring.lead")
	if err != nil || c != "2026-01-01 00:00:00" {
		t.Fatalf("cursor after reopen = %q, %v", c, err)
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode = %q, %v; want wal", mode, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openAt(t, path)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (999, 'future', 'x')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("opening a state file from a newer crmsync succeeded")
	}
}

func TestCursorMissing(t *testing.T) {
	s := openTest(t)
	if _, _, err := s.Cursor(context.Background(), "nope"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("err = %v, want pipeline.ErrNotFound", err)
	}
}

func TestResolveLinksKeysToOneCanonicalID(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	le := pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: "7000000001"}
	em := pipeline.Key{Vendor: "sharpspring", Entity: "lead", Kind: pipeline.KindEmail, Value: "ann@example.com"}
	le2 := pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: "7000000002"}
	var id1, id2, id3 string
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		if id1, err = tx.Resolve(ctx, le, em); err != nil {
			return err
		}
		if id2, err = tx.Resolve(ctx, le); err != nil {
			return err
		}
		// Another LeadExec lead with the same email is the same SharpSpring lead.
		id3, err = tx.Resolve(ctx, le2, em)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if id1 != pipeline.CanonicalID(le) || id2 != id1 || id3 != id1 {
		t.Fatalf("ids = %s %s %s, want all %s", id1, id2, id3, pipeline.CanonicalID(le))
	}
	if got, err := s.Lookup(ctx, le2); err != nil || got != id1 {
		t.Fatalf("lookup le2 = %s, %v", got, err)
	}
	mustUpdate(t, s, func(tx *Tx) error {
		return tx.Link(ctx, id1, pipeline.Key{Vendor: "sharpspring", Entity: "lead", Kind: pipeline.KindID, Value: "88038560770"})
	})
	keys, err := s.VendorKeys(ctx, "sharpspring", "lead", pipeline.KindID, []string{id1, "cmissing"})
	if err != nil || keys[id1] != "88038560770" || len(keys) != 1 {
		t.Fatalf("vendor keys = %v, %v", keys, err)
	}
}

func TestUpdateRollsBackOnError(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.SetRoutePosition(ctx, "r", 10); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if p, _ := s.RoutePosition(ctx, "r"); p != 0 {
		t.Fatalf("position after rollback = %d, want 0", p)
	}
}

func TestRoutePositionOnlyMovesForward(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	for _, seq := range []uint64{5, 9, 7} {
		mustUpdate(t, s, func(tx *Tx) error { return tx.SetRoutePosition(ctx, "r", seq) })
	}
	if p, _ := s.RoutePosition(ctx, "r"); p != 9 {
		t.Fatalf("position = %d, want 9", p)
	}
}

func TestLedgerRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	at := time.Date(2026, 11, 23, 10, 0, 0, 123, time.UTC)
	e := pipeline.LedgerEntry{ContentHash: "h", Fields: map[string]pipeline.FieldStamp{"firstName": {At: at, Hash: "abc"}}}
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutLedger(ctx, "sharpspring", "lead", "c1", e) })
	got, err := s.Ledger(ctx, "sharpspring", "lead", []string{"c1", "c2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got["c1"].Fields["firstName"].At.Equal(at) || got["c1"].Fields["firstName"].Hash != "abc" {
		t.Fatalf("ledger = %+v", got)
	}
}

func TestDeadLetters(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mustUpdate(t, s, func(tx *Tx) error {
		for _, code := range []string{"205", "303", "205"} {
			if _, err := tx.AddDeadLetter(ctx, pipeline.DeadLetter{Route: "r1", Vendor: "sharpspring", Entity: "lead", RecordKey: "c",
				EventIDs: []string{"e1", "e2"}, Payload: []byte(`{}`), Code: code, Message: "Invalid parameters", Attempts: 2}); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.DeadLetters(ctx, pipeline.DeadLetterFilter{Route: "r1", Code: "205"})
	if err != nil || len(got) != 2 {
		t.Fatalf("dead letters = %d, %v", len(got), err)
	}
	if d := got[0]; d.Status != "open" || d.Attempts != 2 || len(d.EventIDs) != 2 || d.Message != "Invalid parameters" {
		t.Fatalf("dead letter = %+v", d)
	}
	if n, _ := s.CountDeadLetters(ctx, ""); n != 3 {
		t.Fatalf("count = %d, want 3", n)
	}
}

func TestTakeQuotaStopsAtLimitAndResetsDaily(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	day := time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC)
	for i := 1; i <= 3; i++ {
		ok, n, err := s.TakeQuota(ctx, "ss:1", day, 3)
		if err != nil || !ok || n != i {
			t.Fatalf("take %d = %v %d %v", i, ok, n, err)
		}
	}
	if ok, n, _ := s.TakeQuota(ctx, "ss:1", day, 3); ok || n != 3 {
		t.Fatalf("over the limit: ok=%v n=%d", ok, n)
	}
	if ok, n, _ := s.TakeQuota(ctx, "ss:1", day.Add(2*time.Minute), 3); !ok || n != 1 {
		t.Fatalf("next day: ok=%v n=%d", ok, n)
	}
	if used, _ := s.QuotaUsed(ctx, "ss:1", day); used != 3 {
		t.Fatalf("used = %d", used)
	}
}

func TestDeliveryReceipts(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, err := s.Delivery(ctx, "leadexec", "lead", "1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	for _, h := range []string{"h1", "h2"} {
		if err := s.RecordDelivery(ctx, "leadexec", "lead", "1", h, "ev-"+h); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := s.Delivery(ctx, "leadexec", "lead", "1"); err != nil || h != "h2" {
		t.Fatalf("delivery = %q, %v", h, err)
	}
}

func TestNamedCheckpoints(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, _, err := s.Checkpoint(ctx, "before-import"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	for _, seq := range []uint64{10, 42} {
		if err := s.SaveCheckpoint(ctx, "before-import", pipeline.Position{Seq: seq}); err != nil {
			t.Fatal(err)
		}
	}
	if pos, at, err := s.Checkpoint(ctx, "before-import"); err != nil || pos.Seq != 42 || at.IsZero() {
		t.Fatalf("checkpoint = %s %v %v", pos, at, err)
	}
}

// TestStateFilesAreOwnerOnly: the state file and its -wal and -shm files
// are created readable by their owner only, and a file left readable by
// others (an older crmsync, a copy) is narrowed when it is opened.
func TestStateFilesAreOwnerOnly(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		prep func(t *testing.T, path string)
	}{
		{"new file", func(*testing.T, string) {}},
		{"existing world-readable file", func(t *testing.T, path string) {
			s := openAt(t, path)
			s.Close()
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.Chmod(p, 0o644); err != nil && !errors.Is(err, fs.ErrNotExist) {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			tc.prep(t, path)
			s := openAt(t, path)
			defer s.Close()
			// A write makes SQLite open the WAL and its shared memory.
			mustUpdate(t, s, func(tx *Tx) error { return tx.SetCursor(ctx, "getlead.lead", "c1") })
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if m := fi.Mode().Perm(); m&0o077 != 0 {
					t.Errorf("%s has mode %#o; group and others must have no access", filepath.Base(p), m)
				}
			}
		})
	}
}

// TestClosedStateIsUnusable: a route stops on a closed state (it cannot
// heal) and retries anything else; the store says which is which.
func TestClosedStateIsUnusable(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "state.db"))
	keys := [][]pipeline.Key{{{Vendor: "a", Entity: "lead", Kind: pipeline.KindID, Value: "1"}}}
	if _, err := s.ResolveAll(ctx, keys); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.ResolveAll(ctx, keys); !errors.Is(err, pipeline.ErrStateUnusable) {
		t.Fatalf("ResolveAll on a closed store: %v, want ErrStateUnusable", err)
	}
	if _, err := s.Ledger(ctx, "a", "lead", []string{"c1"}); !errors.Is(err, pipeline.ErrStateUnusable) {
		t.Fatalf("Ledger on a closed store: %v, want ErrStateUnusable", err)
	}
}
