package kafkabus

import (
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

func (c Config) partitions() int {
	if c.Partitions <= 0 {
		return 1
	}
	return c.Partitions
}

func (c Config) replicas() int {
	if c.Replicas <= 0 {
		return 1
	}
	return c.Replicas
}

func (c Config) groupPrefix() string {
	if c.GroupPrefix == "" {
		return "crmsync.route."
	}
	return c.GroupPrefix
}

func (c Config) deadLetterTopic() string {
	if c.DeadLetterTopic == "" {
		return "crm.deadletter"
	}
	return c.DeadLetterTopic
}

func (c Config) batchTimeout() time.Duration {
	if c.BatchTimeout <= 0 {
		return time.Millisecond
	}
	return c.BatchTimeout
}

func (c Config) batchSize() int {
	if c.BatchSize <= 0 {
		return 500
	}
	return c.BatchSize
}

func (c Config) writeTimeout() time.Duration {
	if c.WriteTimeout <= 0 {
		return 10 * time.Second
	}
	return c.WriteTimeout
}

func (c Config) dupWindow() time.Duration {
	if c.DuplicateWindow == 0 {
		return time.Hour
	}
	return c.DuplicateWindow
}

func (c Config) sessionTimeout() time.Duration {
	if c.SessionTimeout <= 0 {
		return 10 * time.Second
	}
	return c.SessionTimeout
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}
