package checkpoints_test

import (
	"testing"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/statetest"
)

func TestStoreConformsToPipelineState(t *testing.T) {
	statetest.Run(t, func(t *testing.T) pipeline.State { return testenv.State(t) })
}
