package kafkabus

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// StartFake starts an in-process Kafka cluster (franz-go's kfake: the real
// Kafka wire protocol, in memory, no container) on free loopback ports and
// returns its bootstrap addresses. stop shuts it down and forgets all data.
// It backs tests and `crmsync demo --bus kafka`; it is not for production.
func StartFake() (brokers []string, stop func(), err error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, nil, fmt.Errorf("kfake: %w", err)
	}
	return c.ListenAddrs(), c.Close, nil
}
