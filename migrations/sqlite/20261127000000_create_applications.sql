CREATE TABLE applications (
    name        TEXT    PRIMARY KEY NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    email       TEXT    NOT NULL DEFAULT '',
    create_ts   INTEGER NOT NULL,
    update_ts   INTEGER NOT NULL
);
