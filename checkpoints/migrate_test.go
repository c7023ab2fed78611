package checkpoints

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/checkpoints/internal/compact"
	"github.com/crmsync/crmsync/pipeline"
)

// openAtVersion opens a new state file with the migrations up to version
// applied, as an older crmsync left it.
func openAtVersion(t *testing.T, path string, version int) *sql.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	s := &Store{db: db, now: time.Now}
	if err := s.migrate(ctx, version); err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != version {
		t.Fatalf("schema version %d, %v; want %d", v, err, version)
	}
	return db
}

// TestMigration5ReadsBackEveryValueOfAVersion4State fills a state of schema
// 4 the way crmsync wrote it (JSON field stamps, RFC 3339 times, hex text),
// opens it with this crmsync (which converts it) and reads every value back
// equal through the store.
func TestMigration5ReadsBackEveryValueOfAVersion4State(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db := openAtVersion(t, path, 4)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 12, 4, 13, 12, 4, 690942085, time.UTC)
	stamp := at.Add(time.Second).Format(timeFormat)

	// Identities: canonical ids derived (hex) and given (text), a key moved
	// to a newer id later (VendorKeys answers the newest).
	type identity struct {
		key pipeline.Key
		id  string
		at  time.Time
	}
	var ids []identity
	for i := range 300 {
		le := pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: fmt.Sprint(i)}
		id := pipeline.CanonicalID(le)
		email := fmt.Sprintf("lead%d@example.com", i)
		ids = append(ids,
			identity{le, id, at},
			identity{pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindEmail, Value: email}, id, at},
			identity{pipeline.Key{Vendor: "sharpspring", Entity: "lead", Kind: pipeline.KindID, Value: fmt.Sprint(900000 + i)}, id, at},
		)
	}
	ids = append(ids,
		identity{pipeline.Key{Vendor: "ivvy", Entity: "contact", Kind: pipeline.KindExternal, Value: "x-1"}, "c1", at},
		identity{pipeline.Key{Vendor: "ivvy", Entity: "contact", Kind: pipeline.KindID, Value: "old"}, "c1", at},
		identity{pipeline.Key{Vendor: "ivvy", Entity: "contact", Kind: pipeline.KindID, Value: "new"}, "c1", at.Add(time.Minute)},
		identity{pipeline.Key{Vendor: "getlead", Entity: "lead", Kind: pipeline.KindPhone, Value: "+4790000000"}, "Canonical-Upper", at},
	)
	for _, i := range ids {
		exec(`INSERT INTO identities (vendor, entity, kind, value, canonical_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			i.key.Vendor, i.key.Entity, i.key.Kind, i.key.Value, i.id, i.at.Format(timeFormat))
	}

	// Ledger entries with every kind of stamp, hex and text hashes.
	ledger := map[string]pipeline.LedgerEntry{}
	for i := range 300 {
		id := ids[3*i].id
		h := pipeline.ValueHash(fmt.Sprint("Ada", i))
		ledger[id] = pipeline.LedgerEntry{ContentHash: pipeline.FieldsHash(map[string]string{"firstName": fmt.Sprint("Ada", i)}),
			Fields: map[string]pipeline.FieldStamp{
				"firstName": {At: at, Hash: h, Wrote: []string{"leadexec:" + h}},
				"email": {At: at.Add(-time.Hour), Hash: "8a2de44a43d20579", Seen: at, Pending: at.Add(time.Minute),
					Sent: at.Truncate(time.Second), Prev: "a161e03bf85ef872", Wrote: []string{"ivvy:01", "leadexec:8a2de44a43d20579"}},
				"city": {Hash: ""},
			}}
	}
	ledger["c1"] = pipeline.LedgerEntry{ContentHash: "h1", Fields: map[string]pipeline.FieldStamp{"a": {At: at, Hash: "a"}}}
	for k, e := range ledger {
		b, err := json.Marshal(e.Fields)
		if err != nil {
			t.Fatal(err)
		}
		exec(`INSERT INTO write_ledger (vendor, entity, record_key, content_hash, fields, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			"sharpspring", "lead", k, e.ContentHash, string(b), stamp)
	}
	exec(`INSERT INTO write_ledger (vendor, entity, record_key, content_hash, fields, updated_at) VALUES ('sharpspring', 'lead', 'damaged', 'h', '{"a":', ?)`, stamp)

	// Delivery receipts: event ids of the record's vendor and entity, and others.
	type receipt struct{ vendor, entity, externalID, hash, eventID string }
	var receipts []receipt
	for i := range 300 {
		ev := pipeline.Event{Vendor: "leadexec", Entity: "lead", ExternalID: fmt.Sprint(i), Fields: map[string]string{"n": fmt.Sprint(i)}}
		if err := ev.Seal(); err != nil {
			t.Fatal(err)
		}
		receipts = append(receipts, receipt{"leadexec", "lead", ev.ExternalID, pipeline.FieldsHash(ev.Fields), ev.ID})
	}
	receipts = append(receipts, receipt{"ivvy", "contact", "7", "h7", "e7"}, receipt{"ivvy", "lead", "7", "ABCDEF", "leadexec-lead-00"})
	for _, r := range receipts {
		exec(`INSERT INTO deliveries (vendor, entity, external_id, content_hash, event_id, received_at) VALUES (?, ?, ?, ?, ?, ?)`,
			r.vendor, r.entity, r.externalID, r.hash, r.eventID, stamp)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Pages smaller than every table, and not dividing any of them.
	defer func(n int) { convertPage = n }(convertPage)
	convertPage = 8
	s := openAt(t, path)
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != 5 {
		t.Fatalf("schema version after open = %d, %v; want 5", v, err)
	}
	for _, old := range []string{"identities_0004", "write_ledger_0004", "deliveries_0004"} {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE name = ?`, old).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s still there (%d, %v)", old, n, err)
		}
	}

	// Converted, not copied: what has a compact form has it.
	for _, c := range []struct {
		q    string
		want int
	}{
		{`SELECT COUNT(*) FROM identities WHERE typeof(canonical_id) != 'blob'`, 1},                           // "Canonical-Upper" ("c1" is hex)
		{`SELECT COUNT(*) FROM write_ledger WHERE typeof(fields) != 'blob'`, 1},                               // the damaged entry
		{`SELECT COUNT(*) FROM deliveries WHERE typeof(event_id) != 'blob'`, 1},                               // "e7"
		{`SELECT COUNT(*) FROM deliveries WHERE typeof(content_hash) = 'blob'`, 300},                          // hex hashes
		{`SELECT COUNT(*) FROM identities WHERE typeof(updated_at) = 'integer' AND updated_at > 0`, len(ids)}, // times
	} {
		var n int
		if err := s.db.QueryRowContext(ctx, c.q).Scan(&n); err != nil || n != c.want {
			t.Errorf("%s = %d, %v; want %d", c.q, n, err, c.want)
		}
	}

	for _, i := range ids {
		got, err := s.Lookup(ctx, i.key)
		want := i.id
		if i.key.Value == "old" || i.key.Value == "new" {
			want = "c1"
		}
		if err != nil || got != want {
			t.Fatalf("Lookup(%v) = %q, %v; want %q", i.key, got, err, want)
		}
	}
	vk, err := s.VendorKeys(ctx, "ivvy", "contact", pipeline.KindID, []string{"c1"})
	if err != nil || vk["c1"] != "new" {
		t.Errorf("VendorKeys after migration = %v, %v; want the newest link, \"new\"", vk, err)
	}
	vk, err = s.VendorKeys(ctx, "leadexec", "lead", pipeline.KindEmail, []string{ids[0].id, ids[3].id})
	if err != nil || vk[ids[0].id] != "lead0@example.com" || vk[ids[3].id] != "lead1@example.com" {
		t.Errorf("VendorKeys(emails) = %v, %v", vk, err)
	}

	keys := make([]string, 0, len(ledger))
	for k := range ledger {
		keys = append(keys, k)
	}
	got, err := s.Ledger(ctx, "sharpspring", "lead", keys)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range ledger {
		g := got[k]
		if !g.UpdatedAt.Equal(at.Add(time.Second)) {
			t.Fatalf("ledger %s updated at %v, want %v", k, g.UpdatedAt, at.Add(time.Second))
		}
		g.UpdatedAt = time.Time{}
		if !reflect.DeepEqual(g, want) {
			t.Fatalf("ledger %s read back\n%+v\nwant\n%+v", k, g, want)
		}
	}
	if _, err := s.Ledger(ctx, "sharpspring", "lead", []string{"damaged"}); err == nil || !strings.Contains(err.Error(), "ledger: decode damaged") {
		t.Errorf("a ledger entry damaged before the migration reads as %v, want the decode error it gave before", err)
	}

	for _, r := range receipts {
		h, err := s.Delivery(ctx, r.vendor, r.entity, r.externalID)
		if err != nil || h != r.hash {
			t.Fatalf("Delivery(%s %s %s) = %q, %v; want %q", r.vendor, r.entity, r.externalID, h, err, r.hash)
		}
		var ev any
		var received int64
		if err := s.db.QueryRowContext(ctx, `SELECT event_id, received_at FROM deliveries WHERE space = `+spaceQuery+` AND external_id = ?`,
			r.vendor, r.entity, "", r.externalID).Scan(&ev, &received); err != nil {
			t.Fatal(err)
		}
		if id, err := compact.ParsePrefixed(eventIDPrefix(r.vendor, r.entity), ev); err != nil || id != r.eventID {
			t.Fatalf("event id of %s %s %s = %q, %v; want %q", r.vendor, r.entity, r.externalID, id, err, r.eventID)
		}
		if !compact.FromNanos(received).Equal(at.Add(time.Second)) {
			t.Fatalf("received at %v", compact.FromNanos(received))
		}
	}

	// The converted state takes new writes where the old rows are.
	if err := s.Update(ctx, func(tx *Tx) error { return tx.Link(ctx, "c2", ids[0].key) }); err != nil {
		t.Fatal(err)
	}
	if id, err := s.Lookup(ctx, ids[0].key); err != nil || id != "c2" {
		t.Errorf("Lookup after a new link = %q, %v", id, err)
	}
	if _, err := s.Delivery(ctx, "leadexec", "lead", "missing"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("Delivery of an unknown record: %v", err)
	}
}

// TestMigrationsStopAtTheirVersion keeps the older schema buildable: the
// migration test above starts from it.
func TestMigrationsStopAtTheirVersion(t *testing.T) {
	db := openAtVersion(t, filepath.Join(t.TempDir(), "state.db"), 4)
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'key_spaces'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a version 4 state has key_spaces (%d, %v)", n, err)
	}
}

// TestLookupsSearchTheirKeys: every read of the identity map, the ledger
// and the receipts is a search by key, never a scan of a table or a key
// space, on a state big enough for the plan to matter.
func TestLookupsSearchTheirKeys(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	var keys [][]pipeline.Key
	for i := range 2000 {
		keys = append(keys, []pipeline.Key{
			{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: fmt.Sprint(i)},
			{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindEmail, Value: fmt.Sprintf("lead%d@example.com", i)},
		})
	}
	if _, err := s.ResolveAll(ctx, keys); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, query string
		nargs       int
		want        string
	}{
		{"lookup", lookupQuery, 4, "USING PRIMARY KEY (space=? AND value=?)"},
		{"owners", ownersQuery(3), 6, "USING PRIMARY KEY (space=? AND value=?)"},
		{"vendor keys", vendorKeysQuery(3), 6, "INDEX identities_by_canonical (canonical_id=? AND space=?)"},
		{"ledger", ledgerQuery(3), 6, "USING PRIMARY KEY (space=? AND record_key=?)"},
		{"delivery", deliveryQuery, 4, "USING PRIMARY KEY (space=? AND external_id=?)"},
	} {
		args := make([]any, c.nargs)
		for i := range args {
			args[i] = "x"
		}
		plan := strings.Join(rows(t, s, "EXPLAIN QUERY PLAN "+c.query, args...), "\n")
		if !strings.Contains(plan, c.want) || strings.Contains(plan, "SCAN") {
			t.Errorf("%s: plan\n%s\nwant a search %s", c.name, plan, c.want)
		}
	}
}
