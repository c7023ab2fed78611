package natsbus

import (
	"context"
	"testing"
	"time"

	"github.com/crmsync/crmsync/pipeline/bustest"
)

func TestConformance(t *testing.T) {
	bustest.Run(t, bustest.Factory{
		Features: bustest.Features{
			DurableDedup:                 true,
			DurableAck:                   false, // jetstream.Msg.Ack does not wait for the server
			DeliveryCountSurvivesRestart: true,
			Replay:                       true,
			ExactReplayFrom:              true,
			TotalOrder:                   true,
			Backlog:                      true,
		},
		NewEnv: func(t *testing.T) *bustest.Env {
			dir := t.TempDir()
			return &bustest.Env{
				Open: func(t *testing.T) bustest.Bus {
					t.Helper()
					b, err := Open(context.Background(), Config{StoreDir: dir, AckWait: 5 * time.Second})
					if err != nil {
						t.Fatal(err)
					}
					return b
				},
				PublishRaw: func(t *testing.T, b bustest.Bus, subject string, data []byte) {
					t.Helper()
					// The bus's own JetStream context, used as a foreign
					// producer would: no envelope, no message id.
					if _, err := b.(*Bus).js.Publish(context.Background(), subject, data); err != nil {
						t.Fatal(err)
					}
				},
				// JetStream terminates a message that is not an event; it
				// keeps no dead-letter copy.
			}
		},
	})
}
