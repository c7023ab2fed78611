package checkpoints_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/statetest"
)

func TestStoreConformsToPipelineState(t *testing.T) {
	statetest.Run(t, func(t *testing.T) pipeline.State {
		s, err := checkpoints.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
