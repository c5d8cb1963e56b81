CREATE TABLE applications (
    name        TEXT   PRIMARY KEY,
    description TEXT   NOT NULL DEFAULT '',
    email       TEXT   NOT NULL DEFAULT '',
    create_ts   BIGINT NOT NULL,
    update_ts   BIGINT NOT NULL
);
