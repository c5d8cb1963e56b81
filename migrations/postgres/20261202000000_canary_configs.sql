-- Canary configurations (Kayenta's JSON) and every saved revision, as pipelines are stored.
-- `application` is the first of the config's applications: it owns the config (names are
-- unique within it; deleting it deletes the config). Every application the config belongs to
-- has a row in canary_config_applications, which answers "the configs of application X" and
-- forgets an application when it is deleted.
CREATE TABLE canary_configs (
    id               TEXT    PRIMARY KEY,
    application      TEXT    NOT NULL REFERENCES applications (name) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    config           TEXT    NOT NULL,
    revision         BIGINT  NOT NULL,
    update_ts        BIGINT  NOT NULL,
    last_modified_by TEXT    NOT NULL,
    UNIQUE (application, name)
);

CREATE TABLE canary_config_applications (
    config_id   TEXT    NOT NULL REFERENCES canary_configs (id) ON DELETE CASCADE,
    application TEXT    NOT NULL REFERENCES applications (name) ON DELETE CASCADE,
    position    BIGINT  NOT NULL,
    PRIMARY KEY (config_id, application)
);
CREATE INDEX canary_config_applications_by_application ON canary_config_applications (application);

CREATE TABLE canary_config_revisions (
    config_id        TEXT    NOT NULL REFERENCES canary_configs (id) ON DELETE CASCADE,
    revision         BIGINT  NOT NULL,
    config           TEXT    NOT NULL,
    update_ts        BIGINT  NOT NULL,
    last_modified_by TEXT    NOT NULL,
    PRIMARY KEY (config_id, revision)
);
