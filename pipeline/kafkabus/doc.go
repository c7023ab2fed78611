// Package kafkabus is the Kafka implementation of the crmsync bus, built on
// github.com/segmentio/kafka-go. It satisfies the same contract as natsbus
// (pipeline.Publisher, pipeline.ConsumerSource) and passes the same
// conformance suite (pipeline/bustest).
//
// # Layout on Kafka
//
//   - One topic per subject: crm.<entity>.<vendor> (dots are legal in topic
//     names), created on first use with Config.Partitions partitions and
//     Config.Replicas replicas. A topic per subject keeps the route's filter
//     a plain topic subscription and lets operators size and retain each
//     vendor's stream on its own.
//   - Record key = "<vendor>:<external id>", so every change of one record
//     lands in one partition and is consumed in order. The writer hashes
//     keys with murmur2, like the Java client, so other Kafka tools agree on
//     the partition of a key.
//   - Headers: crmsync-event-id (the deterministic event id), crmsync-vendor,
//     crmsync-entity, crmsync-origin. The value is the event's JSON, exactly
//     as on NATS.
//   - Dead letters: messages that are not events (a foreign producer, a
//     corrupted value) are copied to the dead-letter topic (default
//     "crm.deadletter") with the reason and origin in headers, then
//     committed, so they never block a partition.
//
// # Delivery
//
// Publish returns once all in-sync replicas stored the event (RequiredAcks
// all). The writer batches: concurrent publishes that arrive within
// Config.BatchTimeout (default 1ms) share one produce request.
//
// Each route is a consumer group named "crmsync.route.<route>". Fetch reads
// with FetchMessage; Message.Ack marks the message done, and the offsets of
// the acknowledged prefix of each partition are committed with
// CommitMessages at the start of the next Fetch and on Close (commits are
// batched per Fetch rather than one round trip per message). A crash between
// Ack and that commit redelivers the batch, which the write ledger makes
// harmless.
//
// Kafka has no negative acknowledgement. Nak is built on rewind: the
// consumer commits only the prefix before the first nakked message, and at
// the next Fetch after the Nak's delay it reopens its group reader, which
// resumes at the first uncommitted offset of each partition. Everything
// after the nakked message in its partition therefore comes again
// (per-record order is kept); copies of messages that were already
// acknowledged are recognised by event id and skipped. InProgress is a
// no-op: kafka-go heartbeats the group in the background and Kafka has no
// per-message acknowledgement deadline.
//
// # Duplicates
//
// Kafka cannot drop a repeated publish (kafka-go has no idempotent
// producer, and the event id is ours, not Kafka's). A consumer therefore
// skips, and commits, a message whose event id it has delivered within
// Config.DuplicateWindow (default 1h, at most 100,000 ids per consumer).
// That window lives in memory: after a restart a copy published later is
// delivered again, and the route's write ledger drops it (same field hashes,
// nothing to write).
//
// Message.Seq packs the partition and the offset: partition<<48 | offset
// (see Position). Message.Delivered counts deliveries seen by this process;
// it starts again at 1 after a restart.
//
// All exported methods are safe for concurrent use; one Consumer must be
// fetched from by one goroutine at a time (its Acks may come from any).
//
// # Backlog and lag
//
// Backlog and Lag (what `crmsync status` shows per route) read the group's
// committed offsets (OffsetFetch) and each partition's first and high
// watermark offsets (ListOffsets): the backlog is the sum of high watermark
// minus committed offset (or minus the first offset where nothing was
// committed), and the lag the age of the oldest uncommitted record by its
// timestamp. Acknowledged messages count until the next Fetch commits them.
package kafkabus
