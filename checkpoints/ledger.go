package checkpoints

import (
	"context"
	"encoding/json"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// Ledger returns the entries of the given record keys (missing keys are
// absent from the map).
func (s *Store) Ledger(ctx context.Context, vendor, entity string, keys []string) (map[string]pipeline.LedgerEntry, error) {
	out := make(map[string]pipeline.LedgerEntry, len(keys))
	for start := 0; start < len(keys); start += 400 {
		chunk := keys[start:min(start+400, len(keys))]
		args := make([]any, 0, len(chunk)+2)
		args = append(args, vendor, entity)
		for _, k := range chunk {
			args = append(args, k)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT record_key, fields, content_hash, updated_at FROM write_ledger
			WHERE vendor = ? AND entity = ? AND record_key IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, wrap("ledger", err)
		}
		for rows.Next() {
			var k, fields, hash, at string
			if err := rows.Scan(&k, &fields, &hash, &at); err != nil {
				rows.Close()
				return nil, wrap("ledger", err)
			}
			e := pipeline.LedgerEntry{ContentHash: hash}
			if err := json.Unmarshal([]byte(fields), &e.Fields); err != nil {
				rows.Close()
				return nil, wrap("ledger: decode "+k, err)
			}
			e.UpdatedAt, _ = time.Parse(timeFormat, at)
			out[k] = e
		}
		if err := rows.Close(); err != nil {
			return nil, wrap("ledger", err)
		}
	}
	return out, nil
}

// placeholders returns "?,?,…" with n marks.
func placeholders(n int) string {
	b := make([]byte, 0, 2*n)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '?')
	}
	return string(b)
}

// PutLedger stores the entry of one target record.
func (t *Tx) PutLedger(ctx context.Context, vendor, entity, key string, e pipeline.LedgerEntry) error {
	b, err := json.Marshal(e.Fields)
	if err != nil {
		return wrap("put ledger", err)
	}
	_, err = t.exec(ctx, `INSERT INTO write_ledger (vendor, entity, record_key, content_hash, fields, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (vendor, entity, record_key)
		DO UPDATE SET content_hash = excluded.content_hash, fields = excluded.fields, updated_at = excluded.updated_at`,
		vendor, entity, key, e.ContentHash, string(b), t.now)
	return wrap("put ledger", err)
}
