package checkpoints

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// The batched writes must leave the state exactly as the per-record calls
// in the same order: each case runs both on two stores and compares.

func TestResolveAllEqualsResolveInTurn(t *testing.T) {
	le := func(n int) pipeline.Key {
		return pipeline.Key{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: fmt.Sprint(n)}
	}
	em := func(s string) pipeline.Key {
		return pipeline.Key{Vendor: "sharpspring", Entity: "lead", Kind: pipeline.KindEmail, Value: s}
	}
	before := [][]pipeline.Key{{le(1), em("ann@example.com")}, {le(9)}}
	tests := []struct {
		name string
		keys [][]pipeline.Key
	}{
		{"new records", [][]pipeline.Key{{le(2), em("bob@example.com")}, {le(3), em("cy@example.com")}}},
		{"known keys keep their owner", [][]pipeline.Key{{le(1)}, {le(4), em("ann@example.com")}, {em("ann@example.com"), le(9)}}},
		{"a key linked by an earlier list", [][]pipeline.Key{{le(5), em("dee@example.com")}, {le(6), em("dee@example.com")}, {le(6)}}},
		{"repeats and empty values", [][]pipeline.Key{{le(7), le(7), em("")}, {em(""), le(8)}, {le(7), le(8)}}},
		{"more keys than one statement takes", manyKeys(1200)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			one, all := openTest(t), openTest(t)
			for _, s := range []*Store{one, all} {
				mustUpdate(t, s, func(tx *Tx) error {
					for _, ks := range before {
						if _, err := tx.Resolve(ctx, ks...); err != nil {
							return err
						}
					}
					return nil
				})
			}
			var want, got []string
			mustUpdate(t, one, func(tx *Tx) error {
				for _, ks := range tc.keys {
					id, err := tx.Resolve(ctx, ks...)
					if err != nil {
						return err
					}
					want = append(want, id)
				}
				return nil
			})
			mustUpdate(t, all, func(tx *Tx) (err error) {
				got, err = tx.ResolveAll(ctx, tc.keys)
				return err
			})
			if !slices.Equal(got, want) {
				t.Fatalf("ResolveAll = %v, want %v", got, want)
			}
			if a, b := identities(t, one), identities(t, all); !slices.Equal(a, b) {
				t.Fatalf("identities differ:\nResolve:    %v\nResolveAll: %v", a, b)
			}
		})
	}
}

func TestResolveAllWithoutUsableKey(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	err := s.Update(ctx, func(tx *Tx) error {
		_, err := tx.ResolveAll(ctx, [][]pipeline.Key{{{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: "1"}}, {{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: ""}}})
		return err
	})
	if err == nil {
		t.Fatal("a record without a usable key resolved")
	}
	if ids := identities(t, s); len(ids) != 0 {
		t.Fatalf("the failed transaction left %v", ids)
	}
}

func TestLinkAllAndPutLedgersEqualTheCallsInTurn(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	key := func(n int) pipeline.Key {
		return pipeline.Key{Vendor: "sharpspring", Entity: "lead", Kind: pipeline.KindID, Value: fmt.Sprint(n)}
	}
	entry := func(h string) pipeline.LedgerEntry {
		return pipeline.LedgerEntry{ContentHash: h, Fields: map[string]pipeline.FieldStamp{"firstName": {At: at, Hash: h, Wrote: []string{"leadexec:" + h}}}}
	}
	var links []pipeline.Link
	var puts []pipeline.LedgerPut
	for i := range 1100 {
		links = append(links, pipeline.Link{CanonicalID: fmt.Sprint("c", i%700), Key: key(i % 900)})
		puts = append(puts, pipeline.LedgerPut{Vendor: "sharpspring", Entity: "lead", Key: fmt.Sprint("c", i%800), Entry: entry(fmt.Sprint(i))})
	}
	puts = append(puts, pipeline.LedgerPut{Vendor: "leadexec", Entity: "lead", Key: "c1", Entry: entry("src")})
	one, all := openTest(t), openTest(t)
	for _, s := range []*Store{one, all} {
		mustUpdate(t, s, func(tx *Tx) error { return tx.Link(ctx, "old", key(3)) })
	}
	mustUpdate(t, one, func(tx *Tx) error {
		for _, l := range links {
			if err := tx.Link(ctx, l.CanonicalID, l.Key); err != nil {
				return err
			}
		}
		for _, p := range puts {
			if err := tx.PutLedger(ctx, p.Vendor, p.Entity, p.Key, p.Entry); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, all, func(tx *Tx) error {
		if err := tx.LinkAll(ctx, links); err != nil {
			return err
		}
		return tx.PutLedgers(ctx, puts)
	})
	if a, b := identities(t, one), identities(t, all); !slices.Equal(a, b) {
		t.Fatalf("identities differ:\nLink:    %v\nLinkAll: %v", a, b)
	}
	if a, b := ledgerRows(t, one), ledgerRows(t, all); !slices.Equal(a, b) {
		t.Fatalf("ledger differs:\nPutLedger:  %v\nPutLedgers: %v", a, b)
	}
	if err := all.Update(ctx, func(tx *Tx) error {
		if err := tx.LinkAll(ctx, nil); err != nil {
			return err
		}
		return tx.PutLedgers(ctx, nil)
	}); err != nil {
		t.Fatalf("empty batches: %v", err)
	}
}

func manyKeys(n int) [][]pipeline.Key {
	out := make([][]pipeline.Key, n)
	for i := range out {
		out[i] = []pipeline.Key{{Vendor: "leadexec", Entity: "lead", Kind: pipeline.KindID, Value: fmt.Sprint(1000 + i)},
			{Vendor: "sharpspring", Entity: "lead", Kind: pipeline.KindEmail, Value: fmt.Sprintf("l%d@example.com", i%(n/2))}}
	}
	return out
}

// mustUpdate runs fn in one transaction of s and fails the test when it
// does not commit.
func mustUpdate(t *testing.T, s *Store, fn func(tx *Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// identities lists the identity map, without times.
func identities(t *testing.T, s *Store) []string {
	t.Helper()
	return rows(t, s, `SELECT k.vendor, k.entity, k.kind, i.value, hex(i.canonical_id) FROM identities i JOIN key_spaces k ON k.id = i.space
		ORDER BY k.vendor, k.entity, k.kind, i.value`)
}

// ledgerRows lists the write ledger, without times.
func ledgerRows(t *testing.T, s *Store) []string {
	t.Helper()
	return rows(t, s, `SELECT k.vendor, k.entity, hex(l.record_key), hex(l.content_hash), hex(l.fields) FROM write_ledger l
		JOIN key_spaces k ON k.id = l.space ORDER BY k.vendor, k.entity, l.record_key`)
}

func rows(t *testing.T, s *Store, q string, args ...any) []string {
	t.Helper()
	rs, err := s.db.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out []string
	for rs.Next() {
		vals := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVendorKeysAnswersTheLastLinkOfOneTransaction: two values of one key
// kind linked to one record in one batch; the later one is the record's
// key, whatever the values' order.
func TestVendorKeysAnswersTheLastLinkOfOneTransaction(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	for _, order := range [][]string{{"z", "a"}, {"b", "y"}} {
		id := "c" + order[0]
		var links []pipeline.Link
		for _, v := range order {
			links = append(links, pipeline.Link{CanonicalID: id, Key: pipeline.Key{Vendor: "ivvy", Entity: "contact", Kind: pipeline.KindID, Value: v}})
		}
		if _, err := s.Settle(ctx, pipeline.Settlement{Links: links}); err != nil {
			t.Fatal(err)
		}
		got, err := s.VendorKeys(ctx, "ivvy", "contact", pipeline.KindID, []string{id})
		if err != nil || got[id] != order[1] {
			t.Errorf("linked %v in one batch: VendorKeys = %v, %v; want %q", order, got, err, order[1])
		}
	}
}
