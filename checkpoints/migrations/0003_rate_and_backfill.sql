-- Request slots of each vendor account in the last second or so, shared by
-- every crmsync process on this state file (run, backfill, replay), so that
-- together they never exceed the account's per-second limit.
CREATE TABLE rate_slots (
    account TEXT NOT NULL,
    at_ns   INTEGER NOT NULL
);
CREATE INDEX rate_slots_by_account ON rate_slots (account, at_ns);

-- Backfill runs: one per source and time range, resumable page by page.
CREATE TABLE backfill_runs (
    source      TEXT NOT NULL,
    since       TEXT NOT NULL,
    until       TEXT NOT NULL,
    cursor      TEXT NOT NULL,
    published   INTEGER NOT NULL,
    pages       INTEGER NOT NULL,
    done        INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (source, since, until)
);
