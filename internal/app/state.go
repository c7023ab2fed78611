package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

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

// leaseSingletons makes every source and every route a singleton across
// the instances that share the state, when the state hands out leases:
// each poller, client poller and safety net, and each route's consumer,
// runs on the one instance holding its lease. Routes are singletons
// because newest-wins per record needs one writer per route (two instances
// writing one record's events at once could land an older value last),
// and a route's throughput is bound by its vendor's rate limit, which is
// per account, not by the instance's CPU. Webhooks, the part that grows
// with traffic, are answered by every instance.
func (a *App) leaseSingletons() {
	leases, ok := a.State.(pipeline.Leases)
	if !ok {
		return
	}
	ttl := a.cfg.State.LeaseTTL.Std()
	for i, s := range a.Sources {
		a.Sources[i] = &pipeline.Leased{Source: s, Leases: leases, Holder: a.instance, TTL: ttl, Logger: a.log}
	}
	a.routeLeases = map[string]*pipeline.Leased{}
	for _, ru := range a.Runners {
		a.routeLeases[ru.Name()] = &pipeline.Leased{Source: ru, Lease: "route:" + ru.Name(), Leases: leases,
			Holder: a.instance, TTL: ttl, Logger: a.log}
	}
	a.log.Info("sources and routes run under leases shared with the other instances", "instance", a.instance,
		"sources", len(a.Sources), "routes", len(a.Runners))
}

// instanceName names this instance among those sharing a state: host,
// process and a random part (a restarted process is a new holder).
func instanceName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
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

// claimReceipts makes this instance the only writer of delivery receipts
// to a SQLite state (see checkpoints.Store.ClaimReceipts), which then
// answers a webhook delivery of a new record without reading the file. A
// second instance on the same state file is refused: one instance runs on
// a SQLite state at a time.
func (a *App) claimReceipts(ctx context.Context) error {
	c, ok := a.State.(interface{ ClaimReceipts(context.Context) error })
	if !ok {
		return nil
	}
	start := time.Now()
	if err := c.ClaimReceipts(ctx); err != nil {
		if errors.Is(err, checkpoints.ErrReceiptsClaimed) {
			return fmt.Errorf("another crmsync instance runs on %s: one instance at a time runs on a state.kind sqlite state; "+
				"stop the other, give this one its own data_dir, or run several instances on state.kind nats",
				filepath.Join(a.cfg.DataDir, "state.db"))
		}
		return err
	}
	// Start-up reads every receipt (about a second per million): say how long.
	a.log.Info("delivery receipts read into memory", "took", time.Since(start).Round(time.Millisecond))
	return nil
}
