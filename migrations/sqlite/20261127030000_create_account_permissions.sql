CREATE TABLE account_permissions (
    account     TEXT    PRIMARY KEY NOT NULL,
    permissions TEXT    NOT NULL,
    update_ts   INTEGER NOT NULL
);
