-- What triggers remember between runs (the last cron check, tags and builds seen), and the
-- leases that let one gennaker instance poll each source when several share the database.
CREATE TABLE trigger_state (
    key   TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL
);

CREATE TABLE poll_leases (
    name        TEXT    PRIMARY KEY NOT NULL,
    owner       TEXT    NOT NULL,
    lease_until INTEGER NOT NULL
);
