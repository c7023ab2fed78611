package bustest_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"

	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/pipeline/bustest"
	"github.com/crmsync/crmsync/pipeline/kafkabus"
)

// BenchmarkThroughput runs publish→consume→ack through each bus side by
// side: go test -run '^$' -bench Throughput -benchtime 20000x ./pipeline/bustest
func BenchmarkThroughput(b *testing.B) {
	buses := []struct {
		name string
		open func(b *testing.B) bustest.Bus
	}{
		{"nats", func(b *testing.B) bustest.Bus {
			return testenv.Bus(b)
		}},
		{"kafka", func(b *testing.B) bustest.Bus {
			brokers, stop, err := kafkabus.StartFake()
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(stop)
			bus, err := kafkabus.Open(context.Background(), kafkabus.Config{Brokers: brokers, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			return bus
		}},
	}
	for _, bus := range buses {
		for _, pubs := range []int{1, 64} {
			b.Run(bus.name+"/publishers="+strconv.Itoa(pubs), func(b *testing.B) {
				bb := bus.open(b)
				defer bb.Close()
				bustest.Throughput(b, bb, pubs)
			})
		}
	}
}
