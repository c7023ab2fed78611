-- Source cursors: where each poller resumes. The cursor is opaque to the store.
CREATE TABLE source_cursors (
    source     TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Route positions: the last stream sequence a route settled (acked).
CREATE TABLE route_positions (
    route      TEXT PRIMARY KEY,
    stream_seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

-- Identity map: every vendor key of a record points at one canonical id.
-- kind is "id" (vendor-assigned id), "email" (lower-cased), "phone" (E.164)
-- or "external" (our id stored at the vendor).
CREATE TABLE identities (
    vendor       TEXT NOT NULL,
    entity       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    value        TEXT NOT NULL,
    canonical_id TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (vendor, entity, kind, value)
);
CREATE INDEX identities_by_canonical ON identities (canonical_id, vendor, entity, kind);

-- Write ledger: what crmsync last wrote to each target record, per field the
-- source change time and a value hash.
CREATE TABLE write_ledger (
    vendor       TEXT NOT NULL,
    entity       TEXT NOT NULL,
    record_key   TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    fields       TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (vendor, entity, record_key)
);

-- Dead letters: objects a target refused for good. Retried and resolved
-- entries stay as history (status).
CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    route       TEXT NOT NULL,
    vendor      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    record_key  TEXT NOT NULL,
    event_ids   TEXT NOT NULL,
    payload     BLOB NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX dead_letters_by_route ON dead_letters (route, status, code);

-- Daily quota usage per vendor account and UTC day.
CREATE TABLE quota_usage (
    account  TEXT NOT NULL,
    day      TEXT NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (account, day)
);

-- Inbound deliveries: the last content accepted per pushed record, so a
-- webhook retried after the bus's duplicate window still publishes nothing.
CREATE TABLE deliveries (
    vendor       TEXT NOT NULL,
    entity       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (vendor, entity, external_id)
);
