CREATE TABLE account_permissions (
    account     TEXT   PRIMARY KEY,
    permissions TEXT   NOT NULL,
    update_ts   BIGINT NOT NULL
);
