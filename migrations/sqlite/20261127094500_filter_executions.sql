-- The Executions list filters every run of an application on the server: by trigger type and by
-- text in parameter values, paged newest first by (build_time, id). The trigger type and the
-- parameter values (lower-cased, separated by U+001F) are kept beside the body: a run's trigger
-- never changes after it is stored. Rows stored before this migration are filled in here
-- (SQLite's lower() folds ASCII only; runs stored from now on fold Unicode, in Rust).
ALTER TABLE executions ADD COLUMN trigger_type TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN parameter_text TEXT NOT NULL DEFAULT '';
UPDATE executions SET
    trigger_type = COALESCE(json_extract(body, '$.trigger.type'), ''),
    parameter_text = COALESCE((SELECT group_concat(lower(value), char(31)) FROM json_each(body, '$.trigger.parameters')), '');

-- Newest first within an application, with the filtered columns in the index: the scan tests
-- them there and reads a row (with its large body) only for the runs it returns. The new
-- columns sit after the body in the table, so reading them from the row would cost more.
DROP INDEX executions_by_application;
CREATE INDEX executions_by_application ON executions
    (application, build_time, id, pipeline_id, status, trigger_type, parameter_text);
CREATE INDEX executions_by_pipeline_time ON executions (pipeline_id, build_time, id);
-- Listings across applications (REST without `application`), newest first.
CREATE INDEX executions_by_time ON executions (build_time, id);
