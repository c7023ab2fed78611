-- Named checkpoints: a stream position saved by `crmsync checkpoint save`,
-- to replay from later.
CREATE TABLE named_checkpoints (
    name       TEXT PRIMARY KEY,
    stream_seq INTEGER NOT NULL,
    saved_at   TEXT NOT NULL
);
