package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/kafkabus"
	"github.com/crmsync/crmsync/pipeline/natsbus"
)

// Bus is the event bus as the instance uses it: NATS JetStream or Kafka.
type Bus interface {
	pipeline.Publisher
	pipeline.ConsumerSource
	// ReplayFrom and ReplaySince read a subject again from a position,
	// leaving every route's position alone.
	ReplayFrom(ctx context.Context, filter string, seq uint64) (pipeline.Consumer, error)
	ReplaySince(ctx context.Context, filter string, since time.Time) (pipeline.Consumer, error)
	Close() error
}

// Optional bus capabilities, used when present.
type (
	backlogger interface {
		Backlog(ctx context.Context, route string) (uint64, error)
	}
	lagger interface {
		Lag(ctx context.Context, route string) (time.Duration, error)
	}
	lastSeqer interface {
		LastSeq(ctx context.Context) (uint64, error)
	}
	// endPositioner is a bus of several streams (Kafka topics and
	// partitions), whose position is a set of offsets.
	endPositioner interface {
		EndPosition(ctx context.Context) (pipeline.Position, error)
		ReplayAfter(ctx context.Context, filter string, pos pipeline.Position) (pipeline.Consumer, error)
	}
)

// OpenBus opens the configured bus. For NATS without a URL it joins the
// embedded server of a running instance on the same data dir, or starts
// one; for Kafka it connects to the brokers.
func OpenBus(ctx context.Context, cfg *config.Config) (Bus, error) {
	switch cfg.Bus.Kind {
	case "kafka":
		k := cfg.Bus.Kafka
		return kafkabus.Open(ctx, kafkabus.Config{Brokers: k.Brokers, Partitions: k.Partitions, Replicas: k.Replicas,
			DuplicateWindow: cfg.Bus.NATS.DuplicateWindow.Std()})
	case "nats", "":
		return natsbus.Open(ctx, natsbus.Config{
			URL: cfg.Bus.NATS.URL, StoreDir: filepath.Join(cfg.DataDir, "jetstream"), Listen: cfg.Bus.NATS.Listen,
			Stream: cfg.Bus.NATS.Stream, Replicas: cfg.Bus.NATS.Replicas, DuplicateWindow: cfg.Bus.NATS.DuplicateWindow.Std(),
			BackfillDuplicateWindow: cfg.Bus.NATS.BackfillDuplicateWindow.Std(), AckWait: cfg.Bus.NATS.AckWait.Std(),
		})
	default:
		return nil, fmt.Errorf("bus.kind %q is not nats or kafka", cfg.Bus.Kind)
	}
}

// Backlog is how many events of a route are not yet acknowledged, when the
// bus can tell (ok false otherwise).
func (a *App) Backlog(ctx context.Context, route string) (n uint64, ok bool, err error) {
	b, ok := a.Bus.(backlogger)
	if !ok {
		return 0, false, nil
	}
	n, err = b.Backlog(ctx, route)
	return n, true, err
}

func (a *App) readyBus(ctx context.Context) error {
	switch b := a.Bus.(type) {
	case interface{ Ready() error }:
		return b.Ready()
	case interface{ Ready(context.Context) error }:
		return b.Ready(ctx)
	}
	return nil
}
