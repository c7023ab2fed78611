package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Instances on one NATS cluster announce themselves in a key-value bucket
// whose entries expire: an instance that shares the bus but keeps its own
// state (state.kind sqlite) would split the identity map, the write ledger
// and the vendors' rate windows, so such a pair refuses to run.

const (
	presenceBucket = "crmsync_instances"
	// presenceTTL is how long an announcement lasts; instances renew theirs
	// every presenceEvery, so a dead instance drops out within presenceTTL.
	presenceTTL   = 30 * time.Second
	presenceEvery = 10 * time.Second
)

// announcement is what an instance says about itself.
type announcement struct {
	Instance string    `json:"instance"`
	State    string    `json:"state"` // state.kind
	Bucket   string    `json:"bucket,omitempty"`
	Stream   string    `json:"stream"`
	Started  time.Time `json:"started"`
}

// presence announces this instance on the cluster while it runs.
type presence struct {
	kv   jetstream.KeyValue
	self announcement
}

// joinCluster checks the other instances on the bus's cluster and returns
// this instance's presence, or an error saying what to set when the
// instances would not share state. It does nothing (nil, nil) on a bus
// that is not a NATS cluster of its own (embedded, or Kafka).
func (a *App) joinCluster(ctx context.Context) (*presence, error) {
	if a.cfg.Bus.Kind != "nats" || a.cfg.Bus.NATS.URL == "" {
		return nil, nil
	}
	b, ok := a.Bus.(interface{ JetStream() jetstream.JetStream })
	if !ok {
		return nil, nil
	}
	// Replicated like the stream: an instance that starts while one server
	// of the cluster is down still finds the others' announcements.
	kv, err := b.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: presenceBucket, Description: "crmsync instances running on this cluster", History: 1, TTL: presenceTTL,
		Replicas: a.cfg.Bus.NATS.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("announce this instance on the cluster: %w", err)
	}
	self := announcement{Instance: a.instance, State: a.cfg.State.Kind, Stream: a.cfg.Bus.NATS.Stream, Started: time.Now().UTC()}
	if self.State == "nats" {
		self.Bucket = a.cfg.State.Bucket
	}
	others, err := liveInstances(ctx, kv)
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		if o.Stream != self.Stream {
			continue
		}
		if self.State != "nats" || o.State != "nats" || o.Bucket != self.Bucket {
			return nil, fmt.Errorf("another crmsync instance (%s, state.kind %s, started %s) runs on stream %s of this NATS cluster: "+
				"instances that share a bus must share their state, or they split the identity map, the write ledger and the vendors' rate windows. "+
				"Set state.kind: nats (and the same state.bucket) on every instance, or give this one its own bus.nats.stream",
				o.Instance, o.State, o.Started.Format(time.RFC3339), o.Stream)
		}
	}
	p := &presence{kv: kv, self: self}
	if err := p.announce(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func liveInstances(ctx context.Context, kv jetstream.KeyValue) ([]announcement, error) {
	l, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the instances on the cluster: %w", err)
	}
	var out []announcement
	for k := range l.Keys() {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the instances on the cluster: %w", err)
		}
		var an announcement
		if json.Unmarshal(e.Value(), &an) == nil {
			out = append(out, an)
		}
	}
	return out, nil
}

func (p *presence) key() string {
	return strings.NewReplacer(".", "_", " ", "_", ":", "_").Replace(p.self.Instance)
}

func (p *presence) announce(ctx context.Context) error {
	b, _ := json.Marshal(p.self)
	if _, err := p.kv.Put(ctx, p.key(), b); err != nil {
		return fmt.Errorf("announce this instance on the cluster: %w", err)
	}
	return nil
}

// withdraw removes the announcement (it expires by itself otherwise).
func (p *presence) withdraw() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.kv.Delete(ctx, p.key())
}

// run renews the announcement until ctx ends.
func (p *presence) run(ctx context.Context) error {
	_ = p.announce(ctx) // the instance may have been built a while ago
	// A failed renewal is retried at the next tick; the entry outlives two
	// misses.
	return everyTick(ctx, presenceEvery, func() { _ = p.announce(ctx) })
}

// everyTick calls f every interval, the first time a whole interval from
// now, until ctx ends; it then returns nil.
func everyTick(ctx context.Context, interval time.Duration, f func()) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			f()
		}
	}
}
