package checkpoints

import (
	"context"
	"database/sql"
	"errors"

	"github.com/crmsync/crmsync/checkpoints/internal/compact"
	"github.com/crmsync/crmsync/pipeline"
)

// newCanonicalID is the canonical id a record with none yet gets: the one
// derived from its first key with a value, or "" when no key has one.
func newCanonicalID(keys []pipeline.Key) string {
	for _, k := range keys {
		if k.Value != "" {
			return pipeline.CanonicalID(k)
		}
	}
	return ""
}

// Resolve returns the canonical id that the first already-linked key points
// at, or a new one derived from keys[0], and links every key that has no
// owner yet to it. Keys with empty values are skipped.
func (t *Tx) Resolve(ctx context.Context, keys ...pipeline.Key) (string, error) {
	var id string
	for _, k := range keys {
		if k.Value == "" {
			continue
		}
		got, err := t.lookup(ctx, k)
		if err == nil {
			id = got
			break
		}
		if !errors.Is(err, pipeline.ErrNotFound) {
			return "", err
		}
	}
	if id == "" {
		id = newCanonicalID(keys)
	}
	if id == "" {
		return "", errors.New("state: resolve: no usable key")
	}
	for _, k := range keys {
		if k.Value == "" {
			continue
		}
		space, err := t.space(ctx, k.Vendor, k.Entity, k.Kind)
		if err != nil {
			return "", wrap("resolve", err)
		}
		if _, err := t.exec(ctx, `INSERT INTO identities (space, value, canonical_id, updated_at)
			VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, space, k.Value, compact.ID(id), t.linkStamp()); err != nil {
			return "", wrap("resolve", err)
		}
	}
	return id, nil
}

// Link points key at canonicalID, replacing an older link of the same key.
func (t *Tx) Link(ctx context.Context, canonicalID string, k pipeline.Key) error {
	space, err := t.space(ctx, k.Vendor, k.Entity, k.Kind)
	if err != nil {
		return wrap("link", err)
	}
	_, err = t.exec(ctx, `INSERT INTO identities (space, value, canonical_id, updated_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (space, value)
		DO UPDATE SET canonical_id = excluded.canonical_id, updated_at = excluded.updated_at`,
		space, k.Value, compact.ID(canonicalID), t.linkStamp())
	return wrap("link", err)
}

func (t *Tx) lookup(ctx context.Context, k pipeline.Key) (string, error) {
	return scanCanonical(t.queryRow(ctx, lookupQuery, k.Vendor, k.Entity, k.Kind, k.Value))
}

const lookupQuery = `SELECT canonical_id FROM identities WHERE space = ` + spaceQuery + ` AND value = ?`

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func lookup(ctx context.Context, q querier, k pipeline.Key) (string, error) {
	return scanCanonical(q.QueryRowContext(ctx, lookupQuery, k.Vendor, k.Entity, k.Kind, k.Value))
}

func scanCanonical(row *sql.Row) (string, error) {
	var v any
	err := row.Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", pipeline.ErrNotFound
	}
	if err != nil {
		return "", wrap("lookup", err)
	}
	id, err := compact.ParseID(v)
	return id, wrap("lookup", err)
}

// Lookup returns the canonical id a key points at, or ErrNotFound.
func (s *Store) Lookup(ctx context.Context, k pipeline.Key) (string, error) {
	return lookup(ctx, s.rdb, k)
}

// VendorKeys returns, for each canonical id, the newest value of the given
// vendor key kind (ids without one are absent from the map).
func (s *Store) VendorKeys(ctx context.Context, vendor, entity, kind string, canonicalIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(canonicalIDs))
	for start := 0; start < len(canonicalIDs); start += 400 {
		end := min(start+400, len(canonicalIDs))
		args := []any{vendor, entity, kind}
		for _, id := range canonicalIDs[start:end] {
			args = append(args, compact.ID(id))
		}
		rows, err := s.rdb.QueryContext(ctx, vendorKeysQuery(end-start), args...)
		if err != nil {
			return nil, wrap("vendor keys", err)
		}
		for rows.Next() {
			var packed any
			var v string
			if err := rows.Scan(&packed, &v); err != nil {
				rows.Close()
				return nil, wrap("vendor keys", err)
			}
			id, err := compact.ParseID(packed)
			if err != nil {
				rows.Close()
				return nil, wrap("vendor keys", err)
			}
			out[id] = v
		}
		if err := rows.Close(); err != nil {
			return nil, wrap("vendor keys", err)
		}
	}
	return out, nil
}

// vendorKeysQuery looks up n canonical ids in one key space. Without the
// hint SQLite scans the whole key space in primary-key order (to spare a
// sort) rather than look the ids up and sort the few rows found.
func vendorKeysQuery(n int) string {
	return `SELECT canonical_id, value FROM identities INDEXED BY identities_by_canonical
		WHERE space = ` + spaceQuery + ` AND canonical_id IN (` + placeholders(n) + `) ORDER BY updated_at`
}
