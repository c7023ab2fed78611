package kafkabus

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/crmsync/crmsync/pipeline/bustest"
)

// fakeCluster starts a kfake cluster for one test.
func fakeCluster(t *testing.T) []string {
	t.Helper()
	brokers, stop, err := StartFake()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return brokers
}

func openBus(t *testing.T, cfg Config) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func factory(partitions int) bustest.Factory {
	return bustest.Factory{
		Features: bustest.Features{
			DurableDedup:                 false, // consumers skip repeats in memory; the ledger after a restart
			DurableAck:                   true,  // Close commits the acknowledged prefix synchronously
			DeliveryCountSurvivesRestart: false, // Kafka keeps no delivery count
			Replay:                       true,
			ExactReplayFrom:              partitions == 1,
			TotalOrder:                   partitions == 1,
			Backlog:                      true,
		},
		NewEnv: func(t *testing.T) *bustest.Env {
			brokers := fakeCluster(t)
			return &bustest.Env{
				Open: func(t *testing.T) bustest.Bus {
					return openBus(t, Config{Brokers: brokers, Partitions: partitions, Logger: quiet})
				},
				PublishRaw: func(t *testing.T, _ bustest.Bus, subject string, data []byte) {
					t.Helper()
					w := &kafka.Writer{Addr: kafka.TCP(brokers...), BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
					defer w.Close()
					if err := w.WriteMessages(context.Background(), kafka.Message{Topic: subject, Value: data}); err != nil {
						t.Fatal(err)
					}
				},
				DeadLetters: func(t *testing.T, b bustest.Bus) [][]byte {
					t.Helper()
					return readTopic(t, brokers, b.(*Bus).DeadLetterTopic())
				},
			}
		},
	}
}

// readTopic returns the values in every partition of topic (the dead-letter
// topic has as many partitions as the bus creates).
func readTopic(t *testing.T, brokers []string, topic string) [][]byte {
	t.Helper()
	var out [][]byte
	for p := 0; p < 3; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			out = append(out, m.Value)
		}
		r.Close()
	}
	return out
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name       string
		partitions int
	}{
		{"one-partition", 1},
		{"three-partitions", 3},
	} {
		t.Run(tc.name, func(t *testing.T) { bustest.Run(t, factory(tc.partitions)) })
	}
}

var quiet = slog.New(slog.DiscardHandler)
