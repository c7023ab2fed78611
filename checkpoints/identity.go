package checkpoints

import (
	"context"
	"database/sql"
	"errors"

	"github.com/crmsync/crmsync/pipeline"
)

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
		for _, k := range keys {
			if k.Value != "" {
				id = pipeline.CanonicalID(k)
				break
			}
		}
	}
	if id == "" {
		return "", errors.New("state: resolve: no usable key")
	}
	for _, k := range keys {
		if k.Value == "" {
			continue
		}
		if _, err := t.exec(ctx, `INSERT INTO identities (vendor, entity, kind, value, canonical_id, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, k.Vendor, k.Entity, k.Kind, k.Value, id, t.now); err != nil {
			return "", wrap("resolve", err)
		}
	}
	return id, nil
}

// Link points key at canonicalID, replacing an older link of the same key.
func (t *Tx) Link(ctx context.Context, canonicalID string, k pipeline.Key) error {
	_, err := t.exec(ctx, `INSERT INTO identities (vendor, entity, kind, value, canonical_id, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (vendor, entity, kind, value)
		DO UPDATE SET canonical_id = excluded.canonical_id, updated_at = excluded.updated_at`,
		k.Vendor, k.Entity, k.Kind, k.Value, canonicalID, t.now)
	return wrap("link", err)
}

func (t *Tx) lookup(ctx context.Context, k pipeline.Key) (string, error) {
	var id string
	err := t.queryRow(ctx, lookupQuery, k.Vendor, k.Entity, k.Kind, k.Value).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", pipeline.ErrNotFound
	}
	return id, wrap("lookup", err)
}

const lookupQuery = `SELECT canonical_id FROM identities WHERE vendor = ? AND entity = ? AND kind = ? AND value = ?`

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func lookup(ctx context.Context, q querier, k pipeline.Key) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, lookupQuery, k.Vendor, k.Entity, k.Kind, k.Value).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", pipeline.ErrNotFound
	}
	return id, wrap("lookup", err)
}

// Lookup returns the canonical id a key points at, or ErrNotFound.
func (s *Store) Lookup(ctx context.Context, k pipeline.Key) (string, error) {
	return lookup(ctx, s.db, k)
}

// VendorKeys returns, for each canonical id, the newest value of the given
// vendor key kind (ids without one are absent from the map).
func (s *Store) VendorKeys(ctx context.Context, vendor, entity, kind string, canonicalIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(canonicalIDs))
	for start := 0; start < len(canonicalIDs); start += 400 {
		end := min(start+400, len(canonicalIDs))
		args := []any{vendor, entity, kind}
		for _, id := range canonicalIDs[start:end] {
			args = append(args, id)
		}
		ph := placeholders(end - start)
		rows, err := s.db.QueryContext(ctx, `SELECT canonical_id, value FROM identities
			WHERE vendor = ? AND entity = ? AND kind = ? AND canonical_id IN (`+string(ph)+`) ORDER BY updated_at`, args...)
		if err != nil {
			return nil, wrap("vendor keys", err)
		}
		for rows.Next() {
			var id, v string
			if err := rows.Scan(&id, &v); err != nil {
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
