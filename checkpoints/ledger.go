package checkpoints

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// Ledger returns the entries of the given record keys (missing keys are
// absent from the map).
func (s *Store) Ledger(ctx context.Context, vendor, entity string, keys []string) (map[string]pipeline.LedgerEntry, error) {
	return readLedger(ctx, s.db, vendor, entity, keys)
}

// rowsQuerier is a database or a transaction.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readLedger(ctx context.Context, db rowsQuerier, vendor, entity string, keys []string) (map[string]pipeline.LedgerEntry, error) {
	out := make(map[string]pipeline.LedgerEntry, len(keys))
	for start := 0; start < len(keys); start += 400 {
		chunk := keys[start:min(start+400, len(keys))]
		args := make([]any, 0, len(chunk)+2)
		args = append(args, vendor, entity)
		for _, k := range chunk {
			args = append(args, k)
		}
		rows, err := db.QueryContext(ctx, `SELECT record_key, fields, content_hash, updated_at FROM write_ledger
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

type ledgerID struct{ vendor, entity, key string }

// resolveUpdates turns the puts that carry an Update into plain entries,
// reading what is stored inside the transaction (one writer at a time, so
// nothing changes it before the write) and applying the updates in order.
// Puts whose Update declines are left out.
func (t *Tx) resolveUpdates(ctx context.Context, puts []pipeline.LedgerPut) ([]pipeline.LedgerPut, error) {
	need := map[[2]string][]string{}
	for _, p := range puts {
		if p.Update != nil {
			ve := [2]string{p.Vendor, p.Entity}
			need[ve] = append(need[ve], p.Key)
		}
	}
	if len(need) == 0 {
		return puts, nil
	}
	cur := map[ledgerID]pipeline.LedgerEntry{}
	for ve, keys := range need {
		m, err := readLedger(ctx, t.tx, ve[0], ve[1], keys)
		if err != nil {
			return nil, err
		}
		for k, e := range m {
			cur[ledgerID{ve[0], ve[1], k}] = e
		}
	}
	out := make([]pipeline.LedgerPut, 0, len(puts))
	for _, p := range puts {
		id := ledgerID{p.Vendor, p.Entity, p.Key}
		if p.Update == nil {
			cur[id] = p.Entry
			out = append(out, p)
			continue
		}
		e, ok := p.Update(cur[id])
		if !ok {
			continue
		}
		cur[id] = e
		out = append(out, pipeline.LedgerPut{Vendor: p.Vendor, Entity: p.Entity, Key: p.Key, Entry: e})
	}
	return out, nil
}
