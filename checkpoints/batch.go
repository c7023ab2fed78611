package checkpoints

import (
	"context"
	"errors"
	"strings"

	"github.com/crmsync/crmsync/checkpoints/internal/compact"
	"github.com/crmsync/crmsync/pipeline"
)

// Batched forms of the per-record writes. A route settles up to 500 records
// per transaction; one statement per key or entry made the statements'
// fixed cost (database/sql, cgo) most of the route's work. Each batched form
// leaves the state exactly as the per-record calls in the same order would.

var errNoUsableKey = errors.New("no usable key")

// rowsPerInsert bounds the rows of one multi-row statement (at most 5
// parameters each, far below SQLite's 32,766 parameters).
const rowsPerInsert = 500

// ResolveAll is Resolve for each key list in turn, in one pass: a key linked
// by an earlier list counts as linked for the later ones. ids[i] is the
// canonical id of keys[i].
func (t *Tx) ResolveAll(ctx context.Context, keys [][]pipeline.Key) (ids []string, err error) {
	owner, err := owners(ctx, t.tx, keys)
	if err != nil {
		return nil, wrap("resolve", err)
	}
	ids = make([]string, len(keys))
	var fresh []pipeline.Link
	for i, ks := range keys {
		var id string
		for _, k := range ks {
			if k.Value == "" {
				continue
			}
			if got, ok := owner[k]; ok {
				id = got
				break
			}
		}
		if id == "" {
			id = newCanonicalID(ks)
		}
		if id == "" {
			return nil, wrap("resolve", errNoUsableKey)
		}
		for _, k := range ks {
			if _, ok := owner[k]; ok || k.Value == "" {
				continue
			}
			owner[k] = id
			fresh = append(fresh, pipeline.Link{CanonicalID: id, Key: k})
		}
		ids[i] = id
	}
	// Every fresh key had no owner, so no insert can conflict.
	if err := t.insertLinks(ctx, fresh, false); err != nil {
		return nil, wrap("resolve", err)
	}
	return ids, nil
}

// owners looks up the canonical ids of the given keys: one query per vendor,
// entity and kind (and at most rowsPerInsert values).
func owners(ctx context.Context, db rowsQuerier, keys [][]pipeline.Key) (map[pipeline.Key]string, error) {
	type group struct{ vendor, entity, kind string }
	values := map[group][]string{}
	seen := map[pipeline.Key]bool{}
	for _, ks := range keys {
		for _, k := range ks {
			if k.Value == "" || seen[k] {
				continue
			}
			seen[k] = true
			g := group{k.Vendor, k.Entity, k.Kind}
			values[g] = append(values[g], k.Value)
		}
	}
	owner := make(map[pipeline.Key]string, len(seen))
	for g, vs := range values {
		for start := 0; start < len(vs); start += rowsPerInsert {
			chunk := vs[start:min(start+rowsPerInsert, len(vs))]
			args := make([]any, 0, len(chunk)+3)
			args = append(args, g.vendor, g.entity, g.kind)
			for _, v := range chunk {
				args = append(args, v)
			}
			rows, err := db.QueryContext(ctx, ownersQuery(len(chunk)), args...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var v string
				var packed any
				if err := rows.Scan(&v, &packed); err != nil {
					rows.Close()
					return nil, err
				}
				id, err := compact.ParseID(packed)
				if err != nil {
					rows.Close()
					return nil, err
				}
				owner[pipeline.Key{Vendor: g.vendor, Entity: g.entity, Kind: g.kind, Value: v}] = id
			}
			if err := rows.Close(); err != nil {
				return nil, err
			}
		}
	}
	return owner, nil
}

// ownersQuery looks up n values of one key space.
func ownersQuery(n int) string {
	return `SELECT value, canonical_id FROM identities WHERE space = ` + spaceQuery + ` AND value IN (` + placeholders(n) + `)`
}

// LinkAll is Link for each entry in order: a key listed twice ends up
// pointing at its last entry's id.
func (t *Tx) LinkAll(ctx context.Context, links []pipeline.Link) error {
	return wrap("link", t.insertLinks(ctx, links, true))
}

func (t *Tx) insertLinks(ctx context.Context, links []pipeline.Link, replace bool) error {
	for start := 0; start < len(links); start += rowsPerInsert {
		chunk := links[start:min(start+rowsPerInsert, len(links))]
		args := make([]any, 0, 4*len(chunk))
		for _, l := range chunk {
			k := l.Key
			space, err := t.space(ctx, k.Vendor, k.Entity, k.Kind)
			if err != nil {
				return err
			}
			args = append(args, space, k.Value, compact.ID(l.CanonicalID), t.linkStamp())
		}
		q := `INSERT INTO identities (space, value, canonical_id, updated_at) VALUES ` + rowsOf(len(chunk), 4)
		if replace {
			q += ` ON CONFLICT (space, value)
				DO UPDATE SET canonical_id = excluded.canonical_id, updated_at = excluded.updated_at`
		} else {
			q += ` ON CONFLICT DO NOTHING`
		}
		if _, err := t.exec(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// PutLedgers is PutLedger for each entry in order: a record listed twice
// keeps its last entry. Updates (pipeline.LedgerPut.Update) see what is
// stored, and what earlier puts of the same call left.
func (t *Tx) PutLedgers(ctx context.Context, puts []pipeline.LedgerPut) error {
	puts, err := t.resolveUpdates(ctx, puts)
	if err != nil {
		return wrap("put ledger", err)
	}
	for start := 0; start < len(puts); start += rowsPerInsert {
		chunk := puts[start:min(start+rowsPerInsert, len(puts))]
		args := make([]any, 0, 5*len(chunk))
		for _, p := range chunk {
			space, err := t.space(ctx, p.Vendor, p.Entity, "")
			if err != nil {
				return wrap("put ledger", err)
			}
			args = append(args, space, compact.ID(p.Key), compact.ID(p.Entry.ContentHash), compact.Fields(p.Entry.Fields), t.nowNs)
		}
		_, err := t.exec(ctx, `INSERT INTO write_ledger (space, record_key, content_hash, fields, updated_at)
			VALUES `+rowsOf(len(chunk), 5)+` ON CONFLICT (space, record_key)
			DO UPDATE SET content_hash = excluded.content_hash, fields = excluded.fields, updated_at = excluded.updated_at`, args...)
		if err != nil {
			return wrap("put ledger", err)
		}
	}
	return nil
}

// rowsOf returns n rows of cols placeholders: "(?,?,?,?),…".
func rowsOf(n, cols int) string {
	row := "(" + placeholders(cols) + ")"
	var b strings.Builder
	b.Grow((len(row) + 1) * n)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

// ResolveAll resolves each key list in one transaction (see
// pipeline.Identity.ResolveAll). A batch of records whose every key is
// linked already (edits of known records, the steady state) is answered by
// a read, without a write transaction.
func (s *Store) ResolveAll(ctx context.Context, keys [][]pipeline.Key) (ids []string, err error) {
	if ids, ok, err := s.resolveKnown(ctx, keys); err != nil || ok {
		return ids, err
	}
	err = s.Update(ctx, func(tx *Tx) error {
		ids, err = tx.ResolveAll(ctx, keys)
		return err
	})
	return ids, err
}

// resolveKnown resolves keys on a read connection when every usable key is
// linked; ok is false when one is not (or a list has no usable key), which
// takes a write transaction.
func (s *Store) resolveKnown(ctx context.Context, keys [][]pipeline.Key) (ids []string, ok bool, err error) {
	owner, err := owners(ctx, s.rdb, keys)
	if err != nil {
		return nil, false, wrap("resolve", err)
	}
	ids = make([]string, len(keys))
	for i, ks := range keys {
		for _, k := range ks {
			if k.Value == "" {
				continue
			}
			id, linked := owner[k]
			if !linked {
				return nil, false, nil
			}
			if ids[i] == "" {
				ids[i] = id
			}
		}
		if ids[i] == "" {
			return nil, false, nil
		}
	}
	return ids, true, nil
}

// PutLedgers stores ledger entries in one transaction (see
// pipeline.Ledger.PutLedgers).
func (s *Store) PutLedgers(ctx context.Context, puts []pipeline.LedgerPut) error {
	if len(puts) == 0 {
		return nil
	}
	return s.Update(ctx, func(tx *Tx) error { return tx.PutLedgers(ctx, puts) })
}

// Settle stores a route batch's outcome in one transaction (see
// pipeline.RouteState.Settle).
func (s *Store) Settle(ctx context.Context, st pipeline.Settlement) (deadLetterIDs []int64, err error) {
	err = s.Update(ctx, func(tx *Tx) error {
		deadLetterIDs = deadLetterIDs[:0]
		if err := tx.LinkAll(ctx, st.Links); err != nil {
			return err
		}
		if err := tx.PutLedgers(ctx, st.Ledger); err != nil {
			return err
		}
		for _, d := range st.DeadLetters {
			id, err := tx.AddDeadLetter(ctx, d)
			if err != nil {
				return err
			}
			deadLetterIDs = append(deadLetterIDs, id)
		}
		if st.Seq == 0 {
			return nil
		}
		return tx.SetRoutePosition(ctx, st.Route, st.Seq)
	})
	return deadLetterIDs, err
}
