package checkpoints

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/crmsync/crmsync/checkpoints/internal/compact"
	"github.com/crmsync/crmsync/pipeline"
)

// Ledger returns the entries of the given record keys (missing keys are
// absent from the map).
func (s *Store) Ledger(ctx context.Context, vendor, entity string, keys []string) (map[string]pipeline.LedgerEntry, error) {
	return readLedger(ctx, s.rdb, vendor, entity, keys)
}

// rowsQuerier is a database or a transaction.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readLedger(ctx context.Context, db rowsQuerier, vendor, entity string, keys []string) (map[string]pipeline.LedgerEntry, error) {
	out := make(map[string]pipeline.LedgerEntry, len(keys))
	for start := 0; start < len(keys); start += 400 {
		chunk := keys[start:min(start+400, len(keys))]
		args := make([]any, 0, len(chunk)+3)
		args = append(args, vendor, entity, "")
		for _, k := range chunk {
			args = append(args, compact.ID(k))
		}
		rows, err := db.QueryContext(ctx, ledgerQuery(len(chunk)), args...)
		if err != nil {
			return nil, wrap("ledger", err)
		}
		for rows.Next() {
			var key, fields, hash, at any
			if err := rows.Scan(&key, &fields, &hash, &at); err != nil {
				rows.Close()
				return nil, wrap("ledger", err)
			}
			k, err := compact.ParseID(key)
			if err != nil {
				rows.Close()
				return nil, wrap("ledger: record key", err)
			}
			e, err := decodeLedger(fields, hash)
			if err != nil {
				rows.Close()
				return nil, wrap("ledger: decode "+k, err)
			}
			if ns, ok := at.(int64); ok { // anything else was never written by crmsync
				e.UpdatedAt = compact.FromNanos(ns)
			}
			out[k] = e
		}
		if err := rows.Close(); err != nil {
			return nil, wrap("ledger", err)
		}
	}
	return out, nil
}

// ledgerQuery reads the entries of n record keys of one key space.
func ledgerQuery(n int) string {
	return `SELECT record_key, fields, content_hash, updated_at FROM write_ledger
		WHERE space = ` + spaceQuery + ` AND record_key IN (` + placeholders(n) + `)`
}

// decodeLedger reads a stored entry's fields and content hash. The fields
// are compact.Fields; an entry that an older crmsync stored and that was
// not valid JSON then is kept as it was (TEXT) by migration 0005, and
// reading it fails as it did before.
func decodeLedger(fields, hash any) (e pipeline.LedgerEntry, err error) {
	if e.ContentHash, err = compact.ParseID(hash); err != nil {
		return e, err
	}
	switch f := fields.(type) {
	case []byte:
		e.Fields, err = compact.ParseFields(f)
	case string:
		err = json.Unmarshal([]byte(f), &e.Fields)
	default:
		err = fmt.Errorf("fields of type %T", fields)
	}
	return e, err
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
	space, err := t.space(ctx, vendor, entity, "")
	if err != nil {
		return wrap("put ledger", err)
	}
	_, err = t.exec(ctx, `INSERT INTO write_ledger (space, record_key, content_hash, fields, updated_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (space, record_key)
		DO UPDATE SET content_hash = excluded.content_hash, fields = excluded.fields, updated_at = excluded.updated_at`,
		space, compact.ID(key), compact.ID(e.ContentHash), compact.Fields(e.Fields), t.nowNs)
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
