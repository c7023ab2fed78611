package checkpoints_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/internal/testenv"
)

// The write-ahead log reaches the database file while transactions commit,
// long before the writer's own checkpoint threshold (128 MiB of log), and
// the state reads the same before and after.
func TestTheLogIsCopiedIntoTheFileInTheBackground(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := testenv.StateAt(t, path)
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	cursor := strings.Repeat("c", 2000)
	const rows = 2000 // about 4 MiB of log
	for start := 0; start < rows; start += 200 {
		err := s.Update(ctx, func(tx *checkpoints.Tx) error {
			for i := start; i < start+200; i++ {
				if err := tx.SetCursor(ctx, fmt.Sprintf("source-%05d", i), cursor); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, "the rows in the database file", func() bool { return size()-before >= rows*2000 })
	for _, src := range []string{"source-00000", "source-01999"} {
		got, _, err := s.Cursor(ctx, src)
		if err != nil || got != cursor {
			t.Fatalf("cursor of %s: %d bytes, %v", src, len(got), err)
		}
	}
}

// At a clean stop the log is in the file and gone: every connection of the
// state closes, the background checkpoints' one too, and the last to close
// copies the log into the file and removes it.
func TestACleanStopLeavesNoLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := checkpoints.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := s.Update(ctx, func(tx *checkpoints.Tx) error {
			return tx.SetCursor(ctx, fmt.Sprintf("source-%02d", i), strings.Repeat("c", 4000))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Fatalf("state.db-wal after a clean stop: %v", err)
	}
	s = testenv.StateAt(t, path)
	if got, _, err := s.Cursor(ctx, "source-49"); err != nil || len(got) != 4000 {
		t.Fatalf("cursor after reopening: %d bytes, %v", len(got), err)
	}
}
