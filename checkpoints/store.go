// Package checkpoints is crmsync's durable state: one SQLite file (WAL) that
// holds source cursors, route positions, the identity map, the write ledger,
// dead letters, daily quota usage and inbound delivery receipts. The file is
// the whole state of one instance; it can be copied for audit or to move an
// instance.
package checkpoints

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/checkpoints/internal/compact"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/mattn/go-sqlite3" // database/sql driver "sqlite3"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

const timeFormat = time.RFC3339Nano

// Store is the state database. It is safe for concurrent use; writes are
// serialised on one connection, and the reads on the hot paths (a webhook
// delivery's receipt, a route batch's identities and ledger) run on a small
// pool of read connections, so that they never wait behind a write: in WAL
// mode a reader sees every transaction committed before it began. A
// connection of its own copies the log into the file (checkpointer).
type Store struct {
	db         *sql.DB // the writer
	rdb        *sql.DB // readers
	now        func() time.Time
	deliveries deliveryQueue
	ckpt       *checkpointer // nil in a Store not made by Open
	path       string        // the file; "" in a Store not made by Open
	claim      *os.File      // the receipts' lock, once claimed (ClaimReceipts)
}

// readConns is the size of the read pool. Each connection keeps its own
// page cache (readCacheKiB).
const (
	readConns    = 4
	readCacheKiB = 8192
)

// Open opens (creating if needed) the state file at path and applies every
// pending migration. The file is created readable and writable by its owner
// only (0600), and an existing file that group or others could read is
// narrowed to its owner's bits: the state holds leads' contact data. SQLite
// gives the -wal and -shm files the database file's mode.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := private(path); err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	// A 32 MiB page cache (SQLite's default is 2 MiB) keeps the identity
	// map's and ledger's pages that a route's batch touches at random
	// (hashed keys: emails, phones) in memory; the driver's statement cache spares the statements run once
	// per webhook delivery a parse each.
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_synchronous=NORMAL&_foreign_keys=on&_txlock=immediate" +
		"&_cache_size=-32768&_stmt_cache_size=64"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	// One writer connection: SQLite serialises writers anyway, and a single
	// connection never sees SQLITE_BUSY from itself.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, now: time.Now, path: path}
	if err := s.migrate(ctx, 0); err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	// The writer copies the write-ahead log back into the file only past
	// writerCheckpointPages; the checkpointer does it in the background
	// long before (see checkpointEvery).
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", writerCheckpointPages)); err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	// The readers open the file once the writer made it a WAL database of
	// the current schema; query_only keeps them from ever writing.
	rdb, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000&_query_only=true&_txlock=deferred"+
		fmt.Sprintf("&_cache_size=-%d&_stmt_cache_size=64", readCacheKiB))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(readConns)
	rdb.SetMaxIdleConns(readConns)
	s.rdb = rdb
	cdb, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000&_synchronous=NORMAL")
	if err != nil {
		rdb.Close()
		db.Close()
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	cdb.SetMaxOpenConns(1)
	s.ckpt = startCheckpointer(cdb)
	return s, nil
}

// private creates the state file with mode 0600 when it does not exist and
// takes group and other bits off an existing one and its -wal and -shm
// files. A file this user does not own is left as it is (a read-only look by
// another user, e.g. `crmsync status`): its owner's next start narrows it.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, fi.Mode().Perm()&^0o077); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	return nil
}

// Close writes the delivery receipts still queued and closes the database.
func (s *Store) Close() error {
	s.deliveries.drain()
	var ckpt error
	if s.ckpt != nil {
		ckpt = s.ckpt.stop()
	}
	// The writer closes last: the last connection to close copies the
	// log into the file and removes it.
	err := errors.Join(ckpt, s.rdb.Close(), s.db.Close())
	if s.claim != nil {
		// Released once every receipt is written.
		err = errors.Join(err, s.claim.Close())
		s.claim = nil
	}
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies every pending migration up to version upTo (0: all).
func (s *Store) migrate(ctx context.Context, upTo int) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	current, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("schema version %d is newer than this crmsync knows (%d): upgrade crmsync", current, latest)
	}
	for _, m := range ms {
		if m.version <= current || upTo > 0 && m.version > upTo {
			continue
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if convert := conversions[m.version]; convert != nil {
			if err := convert(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, s.now().UTC().Format(timeFormat)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// SchemaVersion is the highest applied migration (0 for a new file).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return int(v.Int64), nil
}

// Update runs fn in one write transaction: everything fn does is stored
// together or not at all.
func (s *Store) Update(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("begin", err)
	}
	now := s.now().UTC()
	tx := &Tx{tx: sqlTx, now: now.Format(timeFormat), nowNs: compact.Nanos(now)}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		if unusable(err) && !errors.Is(err, pipeline.ErrStateUnusable) {
			return fmt.Errorf("%w: %w", pipeline.ErrStateUnusable, err)
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return wrap("commit", err)
	}
	if s.ckpt != nil {
		s.ckpt.committed()
	}
	return nil
}

// Tx is one write transaction (see Store.Update).
type Tx struct {
	tx     *sql.Tx
	now    string
	nowNs  int64 // now in Unix nanoseconds, the compact tables' time
	links  int64 // identity rows written so far
	spaces map[spaceName]int64
}

// linkStamp is the time of an identity row: now, one nanosecond later for
// each row written before it in this transaction, so that "most recently
// linked" (VendorKeys) follows the order of the links within one
// transaction too, not the order of the values.
func (t *Tx) linkStamp() int64 {
	t.links++
	return t.nowNs + t.links - 1
}

// exec runs a statement, preparing it once per transaction: a batch of 500
// records runs the same few statements thousands of times.
// exec and queryRow run a statement in the transaction. The driver keeps
// the connection's recently used statements prepared
// (_stmt_cache_size), so a statement run once per record or per batch is
// parsed once, not once per transaction.
func (t *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, query, args...)
}

// ---- source cursors ----

// SetCursor stores the resume position of a source.
func (t *Tx) SetCursor(ctx context.Context, source, cursor string) error {
	_, err := t.exec(ctx, `INSERT INTO source_cursors (source, cursor, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`, source, cursor, t.now)
	return wrap("set cursor", err)
}

// SetCursor stores the resume position of a source.
func (s *Store) SetCursor(ctx context.Context, source, cursor string) error {
	return s.Update(ctx, func(tx *Tx) error { return tx.SetCursor(ctx, source, cursor) })
}

// Store implements every part of the pipeline's state.
var (
	_ pipeline.State          = (*Store)(nil)
	_ pipeline.QueuedReceipts = (*Store)(nil)
)

// Cursor returns the stored position of a source, or ErrNotFound.
func (s *Store) Cursor(ctx context.Context, source string) (cursor string, updated time.Time, err error) {
	var at string
	err = s.db.QueryRowContext(ctx, `SELECT cursor, updated_at FROM source_cursors WHERE source = ?`, source).Scan(&cursor, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, pipeline.ErrNotFound
	}
	if err != nil {
		return "", time.Time{}, wrap("cursor", err)
	}
	updated, _ = time.Parse(timeFormat, at)
	return cursor, updated, nil
}

// ---- route positions ----

// SetRoutePosition records the stream sequence a route has settled up to.
// Positions only move forward.
func (t *Tx) SetRoutePosition(ctx context.Context, route string, seq uint64) error {
	_, err := t.exec(ctx, `INSERT INTO route_positions (route, stream_seq, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (route) DO UPDATE SET stream_seq = MAX(stream_seq, excluded.stream_seq), updated_at = excluded.updated_at`,
		route, int64(seq), t.now)
	return wrap("set route position", err)
}

// RoutePosition returns the settled stream sequence of a route (0 if none).
func (s *Store) RoutePosition(ctx context.Context, route string) (uint64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, `SELECT stream_seq FROM route_positions WHERE route = ?`, route).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap(fmt.Sprintf("route position of %q", route), err)
	}
	if seq < 0 {
		return 0, fmt.Errorf("state: route position of %q is corrupt: stream sequence %d", route, seq)
	}
	return uint64(seq), nil
}

// ---- quota ----

// AddQuota adds n requests to an account's count for the UTC day of at and
// returns the new total.
func (s *Store) AddQuota(ctx context.Context, account string, at time.Time, n int) (int, error) {
	day := at.UTC().Format("2006-01-02")
	var total int
	err := s.db.QueryRowContext(ctx, `INSERT INTO quota_usage (account, day, requests) VALUES (?, ?, ?)
		ON CONFLICT (account, day) DO UPDATE SET requests = requests + excluded.requests
		RETURNING requests`, account, day, n).Scan(&total)
	return total, wrap("add quota", err)
}

// QuotaUsed returns an account's request count for the UTC day of at.
func (s *Store) QuotaUsed(ctx context.Context, account string, at time.Time) (int, error) {
	var total int
	err := s.db.QueryRowContext(ctx, `SELECT requests FROM quota_usage WHERE account = ? AND day = ?`,
		account, at.UTC().Format("2006-01-02")).Scan(&total)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return total, wrap("quota used", err)
}

// ---- inbound deliveries ----

// Delivery returns the content hash last accepted for a pushed record, or
// ErrNotFound.
func (s *Store) Delivery(ctx context.Context, vendor, entity, externalID string) (contentHash string, err error) {
	var h any
	switch h, queued, none := s.deliveries.lookup(vendor, entity, externalID); {
	case queued:
		return h, nil
	case none:
		return "", pipeline.ErrNotFound
	}
	// A point read on the primary key, once per webhook delivery: with a
	// context that can end, database/sql and the driver each start a
	// goroutine to watch it, which costs more than the read.
	err = s.rdb.QueryRowContext(context.WithoutCancel(ctx), deliveryQuery, vendor, entity, "", externalID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", pipeline.ErrNotFound
	}
	if err != nil {
		return "", wrap("delivery", err)
	}
	contentHash, err = compact.ParseID(h)
	return contentHash, wrap("delivery", err)
}

const deliveryQuery = `SELECT content_hash FROM deliveries WHERE space = ` + spaceQuery + ` AND external_id = ?`

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if unusable(err) {
		return fmt.Errorf("state: %s: %w: %w", op, pipeline.ErrStateUnusable, err)
	}
	return fmt.Errorf("state: %s: %w", op, err)
}

// unusable reports whether err says the database cannot serve this
// process again: it is closed, or the file is damaged or not a database.
// Anything else (busy, locked, a full disk, an I/O error) may pass.
func unusable(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB) {
		return true
	}
	// database/sql does not export its closed-database error.
	return strings.Contains(err.Error(), "sql: database is closed")
}

// TakeQuota counts one request against an account's daily limit for the UTC
// day of at. It returns false, counting nothing, when the day's count has
// reached limit.
func (s *Store) TakeQuota(ctx context.Context, account string, at time.Time, limit int) (bool, int, error) {
	day := at.UTC().Format("2006-01-02")
	var total int
	err := s.db.QueryRowContext(ctx, `INSERT INTO quota_usage (account, day, requests) VALUES (?, ?, 1)
		ON CONFLICT (account, day) DO UPDATE SET requests = requests + 1 WHERE requests < ?
		RETURNING requests`, account, day, limit).Scan(&total)
	if errors.Is(err, sql.ErrNoRows) {
		used, err := s.QuotaUsed(ctx, account, at)
		return false, used, err
	}
	if err != nil {
		return false, 0, wrap("take quota", err)
	}
	return true, total, nil
}

// Cursors lists every stored source position.
func (s *Store) Cursors(ctx context.Context) ([]pipeline.Cursor, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT source, cursor, updated_at FROM source_cursors ORDER BY source`)
	if err != nil {
		return nil, wrap("cursors", err)
	}
	defer rows.Close()
	var out []pipeline.Cursor
	for rows.Next() {
		var c pipeline.Cursor
		var at string
		if err := rows.Scan(&c.Source, &c.Cursor, &at); err != nil {
			return nil, wrap("cursors", err)
		}
		c.UpdatedAt, _ = time.Parse(timeFormat, at)
		out = append(out, c)
	}
	return out, wrap("cursors", rows.Err())
}

// SaveCheckpoint stores (or moves) a named stream position.
func (s *Store) SaveCheckpoint(ctx context.Context, name string, pos pipeline.Position) error {
	offsets := ""
	if len(pos.Offsets) > 0 {
		b, err := json.Marshal(pos.Offsets)
		if err != nil {
			return wrap("save checkpoint", err)
		}
		offsets = string(b)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO named_checkpoints (name, stream_seq, offsets, saved_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET stream_seq = excluded.stream_seq, offsets = excluded.offsets, saved_at = excluded.saved_at`,
		name, int64(pos.Seq), offsets, s.now().UTC().Format(timeFormat))
	return wrap("save checkpoint", err)
}

// Checkpoint returns a named stream position, or ErrNotFound.
func (s *Store) Checkpoint(ctx context.Context, name string) (pos pipeline.Position, savedAt time.Time, err error) {
	var n int64
	var offsets, at string
	err = s.db.QueryRowContext(ctx, `SELECT stream_seq, offsets, saved_at FROM named_checkpoints WHERE name = ?`, name).Scan(&n, &offsets, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return pos, time.Time{}, fmt.Errorf("checkpoint %q: %w", name, pipeline.ErrNotFound)
	}
	if err != nil {
		return pos, time.Time{}, wrap(fmt.Sprintf("checkpoint %q", name), err)
	}
	if n < 0 {
		return pos, time.Time{}, fmt.Errorf("state: checkpoint %q is corrupt: stream sequence %d", name, n)
	}
	pos.Seq = uint64(n)
	if offsets != "" {
		if err := json.Unmarshal([]byte(offsets), &pos.Offsets); err != nil {
			return pipeline.Position{}, time.Time{}, fmt.Errorf("state: checkpoint %q is corrupt: offsets: %w", name, err)
		}
	}
	savedAt, _ = time.Parse(timeFormat, at)
	return pos, savedAt, nil
}
