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
