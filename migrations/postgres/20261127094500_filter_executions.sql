-- The Executions list filters every run of an application on the server: by trigger type and by
-- text in parameter values, paged newest first by (build_time, id). The trigger type and the
-- parameter values (lower-cased, separated by U+001F) are kept beside the body: a run's trigger
-- never changes after it is stored. Rows stored before this migration are filled in here.
ALTER TABLE executions ADD COLUMN trigger_type TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN parameter_text TEXT NOT NULL DEFAULT '';
UPDATE executions SET
    trigger_type = COALESCE(body::jsonb #>> '{trigger,type}', ''),
    parameter_text = COALESCE((
        SELECT string_agg(lower(value), chr(31)) FROM jsonb_each_text(
            CASE WHEN jsonb_typeof(body::jsonb #> '{trigger,parameters}') = 'object'
                 THEN body::jsonb #> '{trigger,parameters}' ELSE '{}'::jsonb END)), '');

-- Newest first within an application (and within a pipeline), ties broken by id, so a page
-- ends at a (build_time, id) the next one starts below. The parameter text stays out of the
-- index: a B-tree entry has a size limit that a long parameter value could pass.
DROP INDEX executions_by_application;
CREATE INDEX executions_by_application ON executions (application, build_time, id);
CREATE INDEX executions_by_pipeline_time ON executions (pipeline_id, build_time, id);
-- Listings across applications (REST without `application`), newest first.
CREATE INDEX executions_by_time ON executions (build_time, id);
