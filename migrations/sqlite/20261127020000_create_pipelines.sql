CREATE TABLE pipelines (
    id               TEXT    PRIMARY KEY NOT NULL,
    application      TEXT    NOT NULL REFERENCES applications (name) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    config           TEXT    NOT NULL,
    revision         INTEGER NOT NULL,
    update_ts        INTEGER NOT NULL,
    last_modified_by TEXT    NOT NULL,
    UNIQUE (application, name)
);

CREATE TABLE pipeline_revisions (
    pipeline_id      TEXT    NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    revision         INTEGER NOT NULL,
    config           TEXT    NOT NULL,
    update_ts        INTEGER NOT NULL,
    last_modified_by TEXT    NOT NULL,
    PRIMARY KEY (pipeline_id, revision)
);

CREATE TABLE executions (
    id          TEXT    PRIMARY KEY NOT NULL,
    application TEXT    NOT NULL,
    pipeline_id TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    build_time  INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    version     INTEGER NOT NULL
);
CREATE INDEX executions_by_application ON executions (application, build_time);
CREATE INDEX executions_by_pipeline ON executions (pipeline_id, status);

CREATE TABLE queue (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    deliver_at   INTEGER NOT NULL,
    lease_until  INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX queue_ready ON queue (deliver_at);

CREATE TABLE execution_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT    NOT NULL,
    application  TEXT    NOT NULL,
    ts           INTEGER NOT NULL,
    body         TEXT    NOT NULL
);
CREATE INDEX execution_events_by_execution ON execution_events (execution_id, seq);
CREATE INDEX execution_events_by_application ON execution_events (application, seq);
