package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crmsync/crmsync/checkpoints"
	"github.com/crmsync/crmsync/checkpoints/natskv"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/pipeline"
)

// OpenState opens the configured state: the SQLite file in the data dir, or
// (state.kind nats) the key-value bucket on the cluster of bus, which must
// then be the NATS bus.
func OpenState(ctx context.Context, cfg *config.Config, bus Bus) (pipeline.State, error) {
	switch cfg.State.Kind {
	case "nats":
		js, ok := bus.(interface{ JetStream() jetstream.JetStream })
		if !ok {
			return nil, fmt.Errorf("state.kind nats needs the NATS bus (bus.kind nats)")
		}
		return natskv.Open(ctx, js.JetStream(), natskv.Config{Bucket: cfg.State.Bucket, Replicas: cfg.State.Replicas})
	case "sqlite", "":
		return checkpoints.Open(ctx, filepath.Join(cfg.DataDir, "state.db"))
	default:
		return nil, fmt.Errorf("state.kind %q is not sqlite or nats", cfg.State.Kind)
	}
}

// OpenStateAlone opens the state for a command that reads or changes it
// without running the pipeline (status, dlq list). For state on the NATS
// cluster it connects to the bus too; release closes both.
func OpenStateAlone(ctx context.Context, cfg *config.Config) (st pipeline.State, release func(), err error) {
	var bus Bus
	if cfg.State.Kind == "nats" {
		if bus, err = OpenBus(ctx, cfg); err != nil {
			return nil, nil, err
		}
	}
	st, err = OpenState(ctx, cfg, bus)
	if err != nil {
		if bus != nil {
			_ = bus.Close()
		}
		return nil, nil, err
	}
	return st, func() {
		_ = st.Close()
		if bus != nil {
			_ = bus.Close()
		}
	}, nil
}
