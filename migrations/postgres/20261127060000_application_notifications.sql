-- Notification defaults of an application: added to every run of its pipelines.
ALTER TABLE applications ADD COLUMN notifications TEXT NOT NULL DEFAULT '[]';
