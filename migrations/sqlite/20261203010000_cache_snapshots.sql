-- What the caching agent holding a location's lease last observed there, for the gennaker
-- instances that share this database and do not observe it themselves. `location` is the
-- published key (`aws:prod:us-east-1`, `kubernetes:prod`); `body` the snapshots as JSON;
-- `version` grows by one each time the body changes, so a follower reads only what is new.
CREATE TABLE cache_snapshots (
    location    TEXT    PRIMARY KEY NOT NULL,
    body        TEXT    NOT NULL,
    observed_at INTEGER NOT NULL,
    holder      TEXT    NOT NULL,
    version     INTEGER NOT NULL
);
