package checkpoints

import (
	"context"
	"database/sql"
)

// Key spaces number each (vendor, entity, kind) that the identity map, the
// write ledger and the delivery receipts key their rows by, so that a row
// holds one small integer instead of the three names. kind is "" for the
// ledger's and the receipts' records. A number, once given, never changes.

// spaceQuery is the number of a key space in a statement's WHERE clause,
// with its three parameters: no row matches a space that has none yet.
const spaceQuery = `(SELECT id FROM key_spaces WHERE vendor = ? AND entity = ? AND kind = ?)`

type spaceName struct{ vendor, entity, kind string }

// execQuerier is a database or a transaction.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// spaceID returns the number of a key space, giving it one if it has none.
// Numbers given inside a transaction are only known to it: cache them per
// transaction, never beyond.
func spaceID(ctx context.Context, db execQuerier, cache map[spaceName]int64, vendor, entity, kind string) (int64, error) {
	n := spaceName{vendor, entity, kind}
	if id, ok := cache[n]; ok {
		return id, nil
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO key_spaces (vendor, entity, kind) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		vendor, entity, kind); err != nil {
		return 0, err
	}
	var id int64
	if err := db.QueryRowContext(ctx, `SELECT id FROM key_spaces WHERE vendor = ? AND entity = ? AND kind = ?`,
		vendor, entity, kind).Scan(&id); err != nil {
		return 0, err
	}
	cache[n] = id
	return id, nil
}

// space is spaceID in this transaction.
func (t *Tx) space(ctx context.Context, vendor, entity, kind string) (int64, error) {
	if t.spaces == nil {
		t.spaces = map[spaceName]int64{}
	}
	return spaceID(ctx, t.tx, t.spaces, vendor, entity, kind)
}
