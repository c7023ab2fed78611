package kafkabus

import (
	"context"
	"fmt"
	"strconv"

	"github.com/segmentio/kafka-go"
)

// Headers the bus adds to a dead letter, next to the original headers.
const (
	HeaderDLQReason    = "crmsync-dlq-reason"
	HeaderDLQTopic     = "crmsync-dlq-topic"
	HeaderDLQPartition = "crmsync-dlq-partition"
	HeaderDLQOffset    = "crmsync-dlq-offset"
)

// DeadLetterTopic is the topic that receives messages that are not events.
func (b *Bus) DeadLetterTopic() string { return b.cfg.deadLetterTopic() }

// deadLetter copies km, with why it could not be processed, to the
// dead-letter topic and returns once the cluster stored it.
func (b *Bus) deadLetter(ctx context.Context, km kafka.Message, reason error) error {
	headers := append([]kafka.Header(nil), km.Headers...)
	headers = append(headers,
		kafka.Header{Key: HeaderDLQReason, Value: []byte(reason.Error())},
		kafka.Header{Key: HeaderDLQTopic, Value: []byte(km.Topic)},
		kafka.Header{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(km.Partition))},
		kafka.Header{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(km.Offset, 10))},
	)
	err := b.writer.WriteMessages(ctx, kafka.Message{
		Topic:   b.cfg.deadLetterTopic(),
		Key:     km.Key,
		Value:   km.Value,
		Headers: headers,
	})
	if err != nil {
		return fmt.Errorf("dead-letter %s[%d]@%d: %w", km.Topic, km.Partition, km.Offset, err)
	}
	b.cfg.logger().Warn("kafka message is not an event; dead-lettered",
		"topic", km.Topic, "partition", km.Partition, "offset", km.Offset,
		"dead_letter_topic", b.cfg.deadLetterTopic(), "reason", reason.Error())
	return nil
}
