package checkpoints

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// The write-ahead log is copied back into the database file (a checkpoint)
// by a connection of its own, in the background, checkpointEvery after a
// transaction committed, so that the writer's commits do not wait for the
// copy. A route's batch can touch thousands of pages at random (emails and
// phones in the identity map, and the canonical ids of records first seen
// by such a key, are hashes: see pipeline.CanonicalID), and copying them
// back took about as long as writing them. Waiting copies a page that several batches wrote
// within checkpointEvery once.
//
// The writer's own automatic checkpoint stays (writerCheckpointPages): a
// background checkpoint leaves the frames committed while it runs to the
// next one, and the log only starts again from its beginning once all of it
// is in the file, which the writer's checkpoint, run right after a commit,
// brings about. By then the background has copied all but the latest
// frames, so the writer's checkpoint is short.
//
// How much of the log is not in the file yet is not asked of SQLite's
// wal-index file: a descriptor of it closed by anyone but SQLite drops every
// lock this process holds on it (POSIX record locks), and the processes
// sharing the state file (run, backfill) would no longer exclude each other.
const (
	checkpointEvery       = 500 * time.Millisecond
	writerCheckpointPages = 32768 // 128 MiB of 4 KiB pages
)

// checkpointer runs the background checkpoints of one state file.
type checkpointer struct {
	db     *sql.DB
	kick   chan struct{}
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func startCheckpointer(db *sql.DB) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), cancel: cancel}
	c.done.Add(1)
	go c.run(ctx)
	return c
}

// committed tells the checkpointer that a transaction committed.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run(ctx context.Context) {
	defer c.done.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(checkpointEvery):
		}
		// A PASSIVE checkpoint copies what no reader still needs and
		// never blocks the writer or a reader. Failing, it leaves the
		// frames to the next one (or to the writer's).
		c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)") //nolint:errcheck // see above
	}
}

// stop ends the background checkpoints and closes their connection.
func (c *checkpointer) stop() error {
	c.cancel()
	c.done.Wait()
	return c.db.Close()
}
