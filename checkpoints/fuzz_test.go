package checkpoints

import (
	"context"
	"strings"
	"testing"
)

// FuzzStoredPositions writes arbitrary values where positions are kept (a
// state file edited by hand, copied from another version, or damaged) and
// reads them back: never a panic; either a usable position or an error
// naming what is corrupt.
func FuzzStoredPositions(f *testing.F) {
	f.Add(int64(42), "42", `{"firstName":{"at":"2026-03-01T10:00:00Z","hash":"ab"}}`, int64(1), int64(10), int64(2))
	f.Add(int64(-1), "-7", `null`, int64(0), int64(0), int64(0))
	f.Add(int64(0), "abc", `{"firstName":`, int64(2), int64(-1), int64(-5))
	f.Add(int64(-9223372036854775808), "1e3", `[]`, int64(-1), int64(9223372036854775807), int64(1))
	ctx := context.Background()
	s := openTest(f)
	f.Fuzz(func(t *testing.T, seq int64, seqText, fields string, done, published, pages int64) {
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		exec(`INSERT OR REPLACE INTO route_positions (route, stream_seq, updated_at) VALUES ('r', ?, 'x')`, seq)
		exec(`INSERT OR REPLACE INTO route_positions (route, stream_seq, updated_at) VALUES ('t', ?, 'x')`, seqText)
		exec(`INSERT OR REPLACE INTO named_checkpoints (name, stream_seq, saved_at) VALUES ('c', ?, ?)`, seq, seqText)
		exec(`INSERT OR IGNORE INTO key_spaces (vendor, entity, kind) VALUES ('v', 'lead', '')`)
		exec(`INSERT OR REPLACE INTO write_ledger (space, record_key, content_hash, fields, updated_at)
			VALUES ((SELECT id FROM key_spaces WHERE vendor = 'v' AND entity = 'lead' AND kind = ''), 'k', 'h', ?, ?)`, fields, seqText)
		exec(`INSERT OR REPLACE INTO write_ledger (space, record_key, content_hash, fields, updated_at)
			VALUES ((SELECT id FROM key_spaces WHERE vendor = 'v' AND entity = 'lead' AND kind = ''), 'b', 'h', ?, ?)`, []byte(fields), seq)
		exec(`INSERT OR REPLACE INTO backfill_runs (source, since, until, cursor, published, pages, done, started_at, updated_at)
			VALUES ('ivvy.lead', '', '', ?, ?, ?, ?, ?, ?)`, seqText, published, pages, done, seqText, seqText)

		for _, route := range []string{"r", "t"} {
			got, err := s.RoutePosition(ctx, route)
			if err != nil {
				if !strings.Contains(err.Error(), `route position of "`+route+`"`) {
					t.Fatalf("error does not name the route: %v", err)
				}
			} else if route == "r" && int64(got) != seq {
				t.Fatalf("position %d read as %d", seq, got)
			}
		}
		if got, _, err := s.Checkpoint(ctx, "c"); err != nil {
			if seq >= 0 || !strings.Contains(err.Error(), `checkpoint "c" is corrupt`) {
				t.Fatalf("checkpoint %d: %v", seq, err)
			}
		} else if int64(got.Seq) != seq {
			t.Fatalf("checkpoint %d read as %d", seq, got.Seq)
		}
		for _, k := range []string{"k", "b"} {
			if _, err := s.Ledger(ctx, "v", "lead", []string{k}); err != nil && !strings.Contains(err.Error(), "ledger: decode "+k) {
				t.Fatalf("ledger error does not name the record: %v", err)
			}
		}
		run, err := s.BackfillRun(ctx, "ivvy.lead", "", "")
		switch {
		case err != nil:
			if !strings.Contains(err.Error(), "backfill run of ivvy.lead") {
				t.Fatalf("backfill error does not name the source: %v", err)
			}
		case run.Published < 0 || run.Pages < 0 || done != 0 && done != 1:
			t.Fatalf("corrupt run read: %+v (done %d)", run, done)
		case run.Cursor != seqText:
			t.Fatalf("cursor %q read as %q", seqText, run.Cursor)
		}
	})
}
