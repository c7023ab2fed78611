-- Compact state: the identity map, the write ledger and the delivery
-- receipts become WITHOUT ROWID tables keyed by what they are looked up by
-- (no separate primary-key index holding the key a second time), with
-- times as Unix nanoseconds, hex ids and hashes as bytes and the ledger's
-- field stamps in a binary form (checkpoints/internal/compact). Vendor,
-- entity and key kind, repeated on every row, become the number of their
-- key space. The rows of the old tables are converted by crmsync itself,
-- in the transaction that applies this file, and the old tables dropped.

-- Key spaces: one number per (vendor, entity, kind); kind is '' for the
-- ledger's and the receipts' records.
CREATE TABLE key_spaces (
    id     INTEGER PRIMARY KEY,
    vendor TEXT NOT NULL,
    entity TEXT NOT NULL,
    kind   TEXT NOT NULL,
    UNIQUE (vendor, entity, kind)
);

DROP INDEX identities_by_canonical;
ALTER TABLE identities RENAME TO identities_0004;
ALTER TABLE write_ledger RENAME TO write_ledger_0004;
ALTER TABLE deliveries RENAME TO deliveries_0004;

-- Identity map: every vendor key of a record points at one canonical id.
-- BLOB columns hold compact.ID: bytes for hex ids, text for any other.
CREATE TABLE identities (
    space        INTEGER NOT NULL, -- key_spaces.id of (vendor, entity, kind)
    value        TEXT NOT NULL,
    canonical_id BLOB NOT NULL,
    updated_at   INTEGER NOT NULL, -- Unix nanoseconds
    PRIMARY KEY (space, value)
) WITHOUT ROWID;
-- Holds (canonical_id, space, value): the primary key completes it.
CREATE INDEX identities_by_canonical ON identities (canonical_id, space);

-- Write ledger: what crmsync last wrote to each target record, per field the
-- source change time and a value hash (compact.Fields).
CREATE TABLE write_ledger (
    space        INTEGER NOT NULL, -- key_spaces.id of (vendor, entity, '')
    record_key   BLOB NOT NULL,
    content_hash BLOB NOT NULL,
    fields       BLOB NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (space, record_key)
) WITHOUT ROWID;

-- Inbound deliveries: the last content accepted per pushed record. event_id
-- leaves out its "<vendor>-<entity>-" prefix when it has it.
CREATE TABLE deliveries (
    space        INTEGER NOT NULL, -- key_spaces.id of (vendor, entity, '')
    external_id  TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    event_id     BLOB NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (space, external_id)
) WITHOUT ROWID;
