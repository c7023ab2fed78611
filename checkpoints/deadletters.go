package checkpoints

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/crmsync/crmsync/pipeline"
)

// AddDeadLetter stores a dead letter and returns its id.
func (t *Tx) AddDeadLetter(ctx context.Context, d pipeline.DeadLetter) (int64, error) {
	res, err := t.exec(ctx, `INSERT INTO dead_letters
		(route, vendor, entity, record_key, event_ids, payload, code, message, attempts, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)`,
		d.Route, d.Vendor, d.Entity, d.RecordKey, strings.Join(d.EventIDs, ","), d.Payload, d.Code, d.Message, d.Attempts, t.now, t.now)
	if err != nil {
		return 0, wrap("add dead letter", err)
	}
	return res.LastInsertId()
}

// DeadLetters lists dead letters, oldest first.
func (s *Store) DeadLetters(ctx context.Context, f pipeline.DeadLetterFilter) ([]pipeline.DeadLetter, error) {
	q := `SELECT id, route, vendor, entity, record_key, event_ids, payload, code, message, attempts, status, created_at, updated_at
		FROM dead_letters WHERE 1=1`
	var args []any
	if f.ID != 0 {
		q += " AND id = ?"
		args = append(args, f.ID)
	}
	if f.Route != "" {
		q += " AND route = ?"
		args = append(args, f.Route)
	}
	if f.Code != "" {
		q += " AND code = ?"
		args = append(args, f.Code)
	}
	if f.Status != "" {
		q += " AND status = ?"
		args = append(args, f.Status)
	}
	rows, err := s.db.QueryContext(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, wrap("dead letters", err)
	}
	defer rows.Close()
	var out []pipeline.DeadLetter
	for rows.Next() {
		var d pipeline.DeadLetter
		var ids, created, updated string
		if err := rows.Scan(&d.ID, &d.Route, &d.Vendor, &d.Entity, &d.RecordKey, &ids, &d.Payload, &d.Code, &d.Message,
			&d.Attempts, &d.Status, &created, &updated); err != nil {
			return nil, wrap("dead letters", err)
		}
		if ids != "" {
			d.EventIDs = strings.Split(ids, ",")
		}
		d.CreatedAt, _ = time.Parse(timeFormat, created)
		d.UpdatedAt, _ = time.Parse(timeFormat, updated)
		out = append(out, d)
	}
	return out, wrap("dead letters", rows.Err())
}

// CountDeadLetters counts open dead letters of a route ("" = all routes).
func (s *Store) CountDeadLetters(ctx context.Context, route string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM dead_letters WHERE status = 'open' AND (? = '' OR route = ?)`,
		route, route).Scan(&n)
	return n, wrap("count dead letters", err)
}

// SetDeadLetterStatus records what became of a dead letter; entries are
// never deleted, so the queue is also the history.
func (s *Store) SetDeadLetterStatus(ctx context.Context, id int64, status string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE dead_letters SET status = ?, updated_at = ? WHERE id = ?`,
		status, s.now().UTC().Format(timeFormat), id)
	if err != nil {
		return wrap("set dead letter status", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("dead letter %d: %w", id, pipeline.ErrNotFound)
	}
	return nil
}

// DeadLetter returns one dead letter by id.
func (s *Store) DeadLetter(ctx context.Context, id int64) (pipeline.DeadLetter, error) {
	all, err := s.DeadLetters(ctx, pipeline.DeadLetterFilter{ID: id})
	if err != nil {
		return pipeline.DeadLetter{}, err
	}
	if len(all) == 0 {
		return pipeline.DeadLetter{}, fmt.Errorf("dead letter %d: %w", id, pipeline.ErrNotFound)
	}
	return all[0], nil
}
