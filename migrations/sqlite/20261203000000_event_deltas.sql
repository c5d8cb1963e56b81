-- Events after a run's first are deltas (what changed since the previous event), not whole
-- runs: `kind` says which. Events stored before are whole runs.
ALTER TABLE execution_events ADD COLUMN kind TEXT NOT NULL DEFAULT 'snapshot';
