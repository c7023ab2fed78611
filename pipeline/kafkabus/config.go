package kafkabus

import (
	"cmp"
	"log/slog"
	"time"
)

// Config configures the Kafka bus. The zero value of each field except
// Brokers is its default.
type Config struct {
	// Brokers are the bootstrap addresses (host:port). Required.
	Brokers []string
	// Partitions of each topic the bus creates; default 1. Per-record order
	// holds at any count (the record key picks the partition); more
	// partitions let several crmsync processes share a route.
	Partitions int
	// Replicas of each topic the bus creates; default 1. Use 3 on a
	// production cluster.
	Replicas int
	// GroupPrefix names the consumer groups: <prefix><route>; default
	// "crmsync.route.".
	GroupPrefix string
	// DeadLetterTopic receives messages that are not events; default
	// "crm.deadletter".
	DeadLetterTopic string
	// BatchTimeout is how long the writer waits for more messages before it
	// sends a partition's batch; default 1ms. kafka-go's own default (1s)
	// would make every synchronous Publish take a second.
	BatchTimeout time.Duration
	// BatchSize is the most messages in one produce batch; default 500.
	BatchSize int
	// WriteTimeout bounds one produce request; default 10s.
	WriteTimeout time.Duration
	// DuplicateWindow is how long a consumer remembers the event ids it
	// delivered, to skip repeated publishes; default 1h. Negative disables.
	DuplicateWindow time.Duration
	// SessionTimeout of the consumer groups; default 10s. A crashed
	// process's partitions move to another member after this long.
	SessionTimeout time.Duration
	// Logger receives warnings (failed commits, dead letters); default
	// slog.Default().
	Logger *slog.Logger
}

// Config's defaults, applied where a setting is read. A negative
// DuplicateWindow is kept: it turns the window off.

func (c Config) partitions() int               { return orDefault(c.Partitions, 1) }
func (c Config) replicas() int                 { return orDefault(c.Replicas, 1) }
func (c Config) groupPrefix() string           { return cmp.Or(c.GroupPrefix, "crmsync.route.") }
func (c Config) deadLetterTopic() string       { return cmp.Or(c.DeadLetterTopic, "crm.deadletter") }
func (c Config) batchTimeout() time.Duration   { return orDefault(c.BatchTimeout, time.Millisecond) }
func (c Config) batchSize() int                { return orDefault(c.BatchSize, 500) }
func (c Config) writeTimeout() time.Duration   { return orDefault(c.WriteTimeout, 10*time.Second) }
func (c Config) dupWindow() time.Duration      { return cmp.Or(c.DuplicateWindow, time.Hour) }
func (c Config) sessionTimeout() time.Duration { return orDefault(c.SessionTimeout, 10*time.Second) }
func (c Config) logger() *slog.Logger          { return cmp.Or(c.Logger, slog.Default()) }

// orDefault returns v, or def when v is zero or negative.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
