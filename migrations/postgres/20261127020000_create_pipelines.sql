CREATE TABLE pipelines (
    id               TEXT    PRIMARY KEY,
    application      TEXT    NOT NULL REFERENCES applications (name) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    config           TEXT    NOT NULL,
    revision         BIGINT  NOT NULL,
    update_ts        BIGINT  NOT NULL,
    last_modified_by TEXT    NOT NULL,
    UNIQUE (application, name)
);

CREATE TABLE pipeline_revisions (
    pipeline_id      TEXT    NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    revision         BIGINT  NOT NULL,
    config           TEXT    NOT NULL,
    update_ts        BIGINT  NOT NULL,
    last_modified_by TEXT    NOT NULL,
    PRIMARY KEY (pipeline_id, revision)
);

CREATE TABLE executions (
    id          TEXT    PRIMARY KEY,
    application TEXT    NOT NULL,
    pipeline_id TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    build_time  BIGINT  NOT NULL,
    body        TEXT    NOT NULL,
    version     BIGINT  NOT NULL
);
CREATE INDEX executions_by_application ON executions (application, build_time);
CREATE INDEX executions_by_pipeline ON executions (pipeline_id, status);

CREATE TABLE queue (
    id           BIGSERIAL PRIMARY KEY,
    execution_id TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    deliver_at   BIGINT  NOT NULL,
    lease_until  BIGINT,
    attempts     BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX queue_ready ON queue (deliver_at);

CREATE TABLE execution_events (
    seq          BIGSERIAL PRIMARY KEY,
    execution_id TEXT    NOT NULL,
    application  TEXT    NOT NULL,
    ts           BIGINT  NOT NULL,
    body         TEXT    NOT NULL
);
CREATE INDEX execution_events_by_execution ON execution_events (execution_id, seq);
CREATE INDEX execution_events_by_application ON execution_events (application, seq);
