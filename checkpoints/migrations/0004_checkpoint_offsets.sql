-- Named checkpoints on Kafka: per topic and partition, the offset the next
-- message gets when the checkpoint was saved (JSON; empty on NATS, whose
-- checkpoints are one stream sequence).
ALTER TABLE named_checkpoints ADD COLUMN offsets TEXT NOT NULL DEFAULT '';
