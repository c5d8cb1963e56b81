-- A secret names who may reference it: pipelines saved by a holder of one of `roles`, or
-- pipelines of one of `applications` (`*`: any). Both are JSON arrays of names. Secrets stored
-- before this migration get empty lists: only pipelines saved by admins may use them until an
-- admin scopes them.
ALTER TABLE secrets ADD COLUMN roles TEXT NOT NULL DEFAULT '[]';
ALTER TABLE secrets ADD COLUMN applications TEXT NOT NULL DEFAULT '[]';
