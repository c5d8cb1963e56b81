ALTER TABLE applications ADD COLUMN permissions TEXT NOT NULL DEFAULT '{}';

CREATE TABLE users (
    name            TEXT    PRIMARY KEY,
    password_hash   TEXT,
    roles           TEXT    NOT NULL DEFAULT '[]',
    admin           BOOLEAN NOT NULL DEFAULT FALSE,
    service_account BOOLEAN NOT NULL DEFAULT FALSE,
    create_ts       BIGINT  NOT NULL,
    update_ts       BIGINT  NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT   PRIMARY KEY,
    user_name  TEXT   NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    create_ts  BIGINT NOT NULL,
    expires_ts BIGINT NOT NULL,
    address    TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_user ON sessions (user_name);

CREATE TABLE api_tokens (
    id           TEXT   PRIMARY KEY,
    user_name    TEXT   NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    token_hash   TEXT   NOT NULL UNIQUE,
    create_ts    BIGINT NOT NULL,
    expires_ts   BIGINT,
    last_used_ts BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_name);

CREATE TABLE secrets (
    name        TEXT   PRIMARY KEY,
    description TEXT   NOT NULL DEFAULT '',
    nonce       BYTEA  NOT NULL,
    ciphertext  BYTEA  NOT NULL,
    create_ts   BIGINT NOT NULL,
    update_ts   BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    ts      BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    action  TEXT   NOT NULL,
    target  TEXT   NOT NULL,
    address TEXT   NOT NULL,
    status  INTEGER NOT NULL
);
