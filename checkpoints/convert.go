package checkpoints

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/crmsync/crmsync/checkpoints/internal/compact"
	"github.com/crmsync/crmsync/pipeline"
)

// conversions are the parts of migrations that SQL cannot do, run after the
// migration's file in the same transaction.
var conversions = map[int]func(context.Context, *sql.Tx) error{
	5: convertToCompact,
}

// convertToCompact copies the rows of the identity map, the write ledger
// and the delivery receipts from the tables of schema 4 (renamed *_0004 by
// 0005_compact_state.sql) into the compact tables, and drops the old ones.
// Times that do not parse (never written by crmsync) become 0, as reading
// them gave the zero time before. A ledger entry whose fields were not
// valid JSON is copied as the text it was, and reading it fails as before.
func convertToCompact(ctx context.Context, tx *sql.Tx) error {
	spaces := map[spaceName]int64{}
	space := func(vendor, entity, kind string) (int64, error) {
		return spaceID(ctx, tx, spaces, vendor, entity, kind)
	}
	nanos := func(at string) int64 {
		t, err := time.Parse(timeFormat, at)
		if err != nil {
			return 0
		}
		return compact.Nanos(t)
	}
	// copyRows converts a table page by page (by rowid, which the old
	// tables have), so that a large state is never held in memory whole.
	copyRows := func(table, columns string, convert func(cols []string) ([]any, error), insert string) error {
		st, err := tx.PrepareContext(ctx, insert)
		if err != nil {
			return fmt.Errorf("write %s: %w", table, err)
		}
		defer st.Close()
		for after := int64(-1 << 63); ; {
			page, last, err := readPage(ctx, tx, `SELECT rowid, `+columns+` FROM `+table+`_0004 WHERE rowid > ? ORDER BY rowid LIMIT ?`, after, convertPage)
			if err != nil {
				return fmt.Errorf("read %s: %w", table, err)
			}
			if len(page) == 0 {
				break
			}
			after = last
			for _, r := range page {
				args, err := convert(r)
				if err != nil {
					return fmt.Errorf("convert %s: %w", table, err)
				}
				if _, err := st.ExecContext(ctx, args...); err != nil {
					return fmt.Errorf("write %s: %w", table, err)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `DROP TABLE `+table+`_0004`); err != nil {
			return fmt.Errorf("drop old %s: %w", table, err)
		}
		return nil
	}

	if err := copyRows("identities",
		`vendor, entity, kind, value, canonical_id, updated_at`,
		func(c []string) ([]any, error) {
			sp, err := space(c[0], c[1], c[2])
			return []any{sp, c[3], compact.ID(c[4]), nanos(c[5])}, err
		},
		`INSERT INTO identities (space, value, canonical_id, updated_at) VALUES (?, ?, ?, ?)`); err != nil {
		return err
	}
	if err := copyRows("write_ledger",
		`vendor, entity, record_key, content_hash, fields, updated_at`,
		func(c []string) ([]any, error) {
			sp, err := space(c[0], c[1], "")
			var fields any = c[4]
			var stamps map[string]pipeline.FieldStamp
			if json.Unmarshal([]byte(c[4]), &stamps) == nil {
				fields = compact.Fields(stamps)
			}
			return []any{sp, compact.ID(c[2]), compact.ID(c[3]), fields, nanos(c[5])}, err
		},
		`INSERT INTO write_ledger (space, record_key, content_hash, fields, updated_at) VALUES (?, ?, ?, ?, ?)`); err != nil {
		return err
	}
	return copyRows("deliveries",
		`vendor, entity, external_id, content_hash, event_id, received_at`,
		func(c []string) ([]any, error) {
			sp, err := space(c[0], c[1], "")
			return []any{sp, c[2], compact.ID(c[3]), compact.Prefixed(eventIDPrefix(c[0], c[1]), c[4]), nanos(c[5])}, err
		},
		`INSERT INTO deliveries (space, external_id, content_hash, event_id, received_at) VALUES (?, ?, ?, ?, ?)`)
}

// convertPage is how many rows a conversion reads at a time.
var convertPage = 2000

// readPage reads the rows of query (rowid first, then text columns) and
// returns the text columns of each and the last rowid.
func readPage(ctx context.Context, tx *sql.Tx, query string, args ...any) (page [][]string, last int64, err error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, 0, err
	}
	for rows.Next() {
		vals := make([]string, len(cols)-1)
		ptrs := []any{&last}
		for i := range vals {
			ptrs = append(ptrs, &vals[i])
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, 0, err
		}
		page = append(page, vals)
	}
	return page, last, rows.Err()
}
