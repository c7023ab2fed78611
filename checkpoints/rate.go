package checkpoints

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// TakeSlot admits one request of account if fewer than limit requests were
// admitted in the span before now, across every process on this state file.
// Otherwise it returns how long to wait before asking again.
func (s *Store) TakeSlot(ctx context.Context, account string, now time.Time, limit int, span time.Duration) (ok bool, wait time.Duration, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, 0, wrap("take slot", err)
	}
	defer tx.Rollback()
	from := now.Add(-span).UnixNano()
	if _, err := tx.ExecContext(ctx, `DELETE FROM rate_slots WHERE account = ? AND at_ns <= ?`, account, from); err != nil {
		return false, 0, wrap("take slot", err)
	}
	var n int
	var oldest sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), MIN(at_ns) FROM rate_slots WHERE account = ?`, account).Scan(&n, &oldest); err != nil {
		return false, 0, wrap("take slot", err)
	}
	if n >= limit {
		w := time.Duration(oldest.Int64 - from)
		if w <= 0 {
			w = time.Millisecond
		}
		return false, w, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO rate_slots (account, at_ns) VALUES (?, ?)`, account, now.UnixNano()); err != nil {
		return false, 0, wrap("take slot", err)
	}
	if err := tx.Commit(); err != nil {
		return false, 0, wrap("take slot", err)
	}
	return true, 0, nil
}

// AnswerSlot implements pipeline.RateWindow.
func (s *Store) AnswerSlot(ctx context.Context, account string, sent, answered time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("answer slot", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE rate_slots SET at_ns = ? WHERE rowid = (SELECT rowid FROM rate_slots
		WHERE account = ? AND at_ns >= ? AND at_ns <= ? ORDER BY at_ns LIMIT 1)`,
		answered.UnixNano(), account, sent.UnixNano(), answered.UnixNano())
	if err != nil {
		return wrap("answer slot", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rate_slots (account, at_ns) VALUES (?, ?)`, account, answered.UnixNano()); err != nil {
			return wrap("answer slot", err)
		}
	}
	return wrap("answer slot", tx.Commit())
}

// BackfillRun returns the stored run, or ErrNotFound.
func (s *Store) BackfillRun(ctx context.Context, source, since, until string) (pipeline.BackfillRun, error) {
	r := pipeline.BackfillRun{Source: source, Since: since, Until: until}
	var done int
	var started, updated string
	err := s.db.QueryRowContext(ctx, `SELECT cursor, published, pages, done, started_at, updated_at FROM backfill_runs
		WHERE source = ? AND since = ? AND until = ?`, source, since, until).Scan(&r.Cursor, &r.Published, &r.Pages, &done, &started, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return r, pipeline.ErrNotFound
	}
	if err != nil {
		return r, wrap("backfill run of "+source, err)
	}
	if done != 0 && done != 1 || r.Published < 0 || r.Pages < 0 {
		return r, fmt.Errorf("state: backfill run of %s is corrupt: done %d, published %d, pages %d", source, done, r.Published, r.Pages)
	}
	r.Done = done == 1
	r.StartedAt, _ = time.Parse(timeFormat, started)
	r.UpdatedAt, _ = time.Parse(timeFormat, updated)
	return r, nil
}

// SaveBackfillRun stores a run's progress (after every page).
func (s *Store) SaveBackfillRun(ctx context.Context, r pipeline.BackfillRun) error {
	now := s.now().UTC().Format(timeFormat)
	started := now
	if !r.StartedAt.IsZero() {
		started = r.StartedAt.UTC().Format(timeFormat)
	}
	done := 0
	if r.Done {
		done = 1
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO backfill_runs (source, since, until, cursor, published, pages, done, started_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, since, until) DO UPDATE SET cursor = excluded.cursor,
		published = excluded.published, pages = excluded.pages, done = excluded.done, updated_at = excluded.updated_at`,
		r.Source, r.Since, r.Until, r.Cursor, r.Published, r.Pages, done, started, now)
	return wrap("save backfill run", err)
}
