-- The embedded local cloud's desired state (server groups, load balancers, security groups), so
-- a restart of gennaker brings everything back.
CREATE TABLE local_resources (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
