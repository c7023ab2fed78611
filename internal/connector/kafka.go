package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	ksink "github.com/crmsync/crmsync/sinks/kafka"
)

// Kafka as a target: routes to kafka.lead and kafka.client publish the
// canonical change stream, one JSON message per record written, keyed by
// its canonical id; topics are created at start-up when missing.
func init() {
	Register(Connector{
		Vendor:  config.Vendor{Name: "kafka", Title: "the Kafka change stream", Writes: []string{"lead", "client"}},
		Builtin: true,
		Open:    openKafka,
	})
}

func openKafka(ctx context.Context, env Env) (*Account, error) {
	k := env.Section.(*config.KafkaTargetConfig)
	acc := &Account{
		LeadCodec:   mappings.CanonicalLeads{Name: "kafka", Catalog: env.Catalog},
		ClientCodec: mappings.CanonicalClients{Name: "kafka"},
		Sinks:       map[string]pipeline.Sink{},
	}
	var closers []io.Closer
	acc.Close = func() error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c.Close())
		}
		return errors.Join(errs...)
	}
	for _, t := range []struct{ entity, topic string }{{"lead", k.LeadTopic}, {"client", k.ClientTopic}} {
		if !env.Writes("kafka", t.entity) {
			continue
		}
		s, err := ksink.New(ksink.Config{Brokers: k.Brokers, Topic: t.topic, Entity: t.entity,
			MaxMessageBytes: k.MaxMessageBytes, WriteTimeout: k.WriteTimeout.Std()})
		if err != nil {
			return nil, errors.Join(err, acc.Close())
		}
		closers = append(closers, s)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = s.CreateTopic(cctx, k.Partitions, k.Replicas)
		cancel()
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s_topic: %w", t.entity, err), acc.Close())
		}
		acc.Sinks[t.entity] = s
	}
	return acc, nil
}
