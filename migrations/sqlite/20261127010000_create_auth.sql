ALTER TABLE applications ADD COLUMN permissions TEXT NOT NULL DEFAULT '{}';

CREATE TABLE users (
    name            TEXT    PRIMARY KEY NOT NULL,
    password_hash   TEXT,
    roles           TEXT    NOT NULL DEFAULT '[]',
    admin           BOOLEAN NOT NULL DEFAULT FALSE,
    service_account BOOLEAN NOT NULL DEFAULT FALSE,
    create_ts       INTEGER NOT NULL,
    update_ts       INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY NOT NULL,
    user_name  TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    create_ts  INTEGER NOT NULL,
    expires_ts INTEGER NOT NULL,
    address    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_user ON sessions (user_name);

CREATE TABLE api_tokens (
    id           TEXT    PRIMARY KEY NOT NULL,
    user_name    TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    create_ts    INTEGER NOT NULL,
    expires_ts   INTEGER,
    last_used_ts INTEGER
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_name);

CREATE TABLE secrets (
    name        TEXT    PRIMARY KEY NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    nonce       BLOB    NOT NULL,
    ciphertext  BLOB    NOT NULL,
    create_ts   INTEGER NOT NULL,
    update_ts   INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL,
    address TEXT    NOT NULL,
    status  INTEGER NOT NULL
);
