package kafka

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/pipeline/sinktest"
)

// errNotEnoughReplicas is Kafka's NOT_ENOUGH_REPLICAS, a retriable
// refusal of a produce that stores nothing.
const errNotEnoughReplicas = 19

func TestConformance(t *testing.T) {
	const topic = "warehouse.leads"
	sinktest.Run(t, sinktest.Factory{
		Features: sinktest.Features{
			ReadBack:  sinktest.Without("a topic cannot be read by record: the sink is not a TargetReader"),
			TargetIDs: sinktest.Without("Kafka gives a message no id of the record; the message key is the canonical id"),
			Rewrite: sinktest.Without("a topic is a log: a record written again is appended again, " +
				"with the same change_id by which consumers drop the repeat"),
			LostAnswer: sinktest.Without("a produce whose answer was lost is appended again by the retry (see Rewrite)"),
		},
		NewEnv: func(t *testing.T) *sinktest.Env {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			var down atomic.Bool
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if !down.Load() {
					return nil, nil, false
				}
				return refuseProduce(req.(*kmsg.ProduceRequest)), nil, true
			})
			brokers := c.ListenAddrs()
			s := newSink(t, brokers)
			return &sinktest.Env{
				Sink: s,
				Record: func(i int) *pipeline.Record {
					return record(fmt.Sprintf("lead-%d", i), map[string]string{"email": fmt.Sprintf("p%d@example.com", i), "company": "Acme"})
				},
				// Larger than MaxMessageBytes: refused before the produce.
				Bad: func(i int) *pipeline.Record {
					return record(fmt.Sprintf("big-%d", i), map[string]string{"description": strings.Repeat("x", 20_000)})
				},
				Held: func(t *testing.T) int { return messages(t, brokers[0], topic) },
				Outage: func(*testing.T) func() {
					down.Store(true)
					return func() { down.Store(false) }
				},
			}
		},
	})
}

// refuseProduce answers every partition of req with NOT_ENOUGH_REPLICAS.
func refuseProduce(req *kmsg.ProduceRequest) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = errNotEnoughReplicas
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// messages counts the messages of the topic's only partition.
func messages(t *testing.T, broker, topic string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := kafka.DialLeader(ctx, "tcp", broker, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		t.Fatal(err)
	}
	return int(last - first)
}
