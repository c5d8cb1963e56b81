-- Cloud accounts made through the admin API (the clouds file's are read at each start, and
-- `local` is built in). `settings` is the account's JSON (app::model::clouds::CloudAccount):
-- provider settings and the names of secrets, never credentials themselves.
CREATE TABLE cloud_accounts (
    name TEXT PRIMARY KEY,
    cloud_provider TEXT NOT NULL,
    settings TEXT NOT NULL,
    create_ts BIGINT NOT NULL,
    update_ts BIGINT NOT NULL
);
