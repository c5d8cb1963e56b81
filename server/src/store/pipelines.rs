//! Pipeline configurations and every saved revision of them.

use app::model::pipeline::{Pipeline, PipelineRevision, parse_pipeline};

use super::{Error, Result, Store, is_unique_violation, now_millis, on_pool};

#[derive(Debug, sqlx::FromRow)]
struct PipelineRow {
    id: String,
    config: String,
    revision: i64,
    update_ts: i64,
    last_modified_by: String,
}

impl PipelineRow {
    /// The stored document, read leniently as it was when saved (see `Pipeline::document`).
    fn into_model(self) -> Result<Pipeline> {
        let document: serde_json::Value =
            serde_json::from_str(&self.config).map_err(|error| Error::Corrupt(format!("pipeline {}: {error}", self.id)))?;
        let mut pipeline = parse_pipeline(&document).map_err(|error| Error::Corrupt(format!("pipeline {}: {error}", self.id)))?;
        pipeline.document = Some(document);
        pipeline.id = self.id;
        pipeline.revision = self.revision;
        pipeline.update_ts = self.update_ts;
        pipeline.last_modified_by = self.last_modified_by;
        Ok(pipeline)
    }
}

const COLUMNS: &str = "id, config, revision, update_ts, last_modified_by";

impl Store {
    pub async fn list_pipelines(&self, application: &str) -> Result<Vec<Pipeline>> {
        let sql = format!("SELECT {COLUMNS} FROM pipelines WHERE application = $1 ORDER BY name");
        let rows: Vec<PipelineRow> = on_pool!(self, pool => sqlx::query_as(&sql).bind(application).fetch_all(pool).await)?;
        rows.into_iter().map(PipelineRow::into_model).collect()
    }

    /// Every pipeline whose stored configuration contains `fragment` (a cheap pre-filter for
    /// triggers, e.g. `"type":"webhook"`; callers parse and check what they get).
    pub async fn pipelines_mentioning(&self, fragment: &str) -> Result<Vec<Pipeline>> {
        let sql = format!("SELECT {COLUMNS} FROM pipelines WHERE config LIKE $1 ORDER BY application, name");
        // `_` and SQLite's case-insensitivity only widen the match; the caller checks exactly.
        let pattern = format!("%{}%", fragment.replace('%', ""));
        let rows: Vec<PipelineRow> = on_pool!(self, pool => sqlx::query_as(&sql).bind(&pattern).fetch_all(pool).await)?;
        rows.into_iter().map(PipelineRow::into_model).collect()
    }

    /// By id, or by name within the application.
    pub async fn get_pipeline(&self, application: &str, name_or_id: &str) -> Result<Pipeline> {
        let sql = format!("SELECT {COLUMNS} FROM pipelines WHERE application = $1 AND (id = $2 OR name = $2)");
        let row: Option<PipelineRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(application).bind(name_or_id).fetch_optional(pool).await)?;
        row.ok_or_else(|| Error::NotFound(format!("pipeline {name_or_id}")))?.into_model()
    }

    /// The application holding pipeline `id`, if any does.
    pub async fn pipeline_application(&self, id: &str) -> Result<Option<String>> {
        let row: Option<(String,)> =
            on_pool!(self, pool => sqlx::query_as("SELECT application FROM pipelines WHERE id = $1").bind(id).fetch_optional(pool).await)?;
        Ok(row.map(|(application,)| application))
    }

    /// Saves a new pipeline (revision 1) or a new revision of an existing one. `expected` is the
    /// revision the caller edited: a save over a newer revision is `Stale` (no lost updates).
    pub async fn save_pipeline(&self, pipeline: &Pipeline, expected: Option<i64>, author: &str) -> Result<Pipeline> {
        let now = now_millis();
        let config = serde_json::to_string(&pipeline.stored_document()).expect("pipelines serialize");
        let outcome: Result<i64, sqlx::Error> = on_pool!(self, pool => {
            async {
                let mut tx = pool.begin().await?;
                let revision = match expected {
                    None => {
                        sqlx::query("INSERT INTO pipelines (id, application, name, config, revision, update_ts, last_modified_by) VALUES ($1, $2, $3, $4, 1, $5, $6)")
                            .bind(&pipeline.id).bind(&pipeline.application).bind(&pipeline.name).bind(&config).bind(now).bind(author)
                            .execute(&mut *tx).await?;
                        1
                    }
                    Some(expected) => {
                        let updated = sqlx::query("UPDATE pipelines SET name = $2, config = $3, revision = revision + 1, update_ts = $4, last_modified_by = $5 WHERE id = $1 AND revision = $6")
                            .bind(&pipeline.id).bind(&pipeline.name).bind(&config).bind(now).bind(author).bind(expected)
                            .execute(&mut *tx).await?.rows_affected();
                        if updated == 0 {
                            return Ok(-1);
                        }
                        expected + 1
                    }
                };
                sqlx::query("INSERT INTO pipeline_revisions (pipeline_id, revision, config, update_ts, last_modified_by) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&pipeline.id).bind(revision).bind(&config).bind(now).bind(author)
                    .execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(revision)
            }.await
        });
        match outcome {
            Ok(-1) => Err(Error::Stale(format!("pipeline {} changed since revision {}", pipeline.name, expected.unwrap_or(0)))),
            Ok(_) => self.get_pipeline(&pipeline.application, &pipeline.id).await,
            Err(error) if is_unique_violation(&error) => Err(Error::Duplicate(format!("pipeline {}", pipeline.name))),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn delete_pipeline(&self, application: &str, id: &str) -> Result<()> {
        let deleted = on_pool!(self, pool => {
            sqlx::query("DELETE FROM pipelines WHERE application = $1 AND id = $2").bind(application).bind(id)
                .execute(pool).await.map(|done| done.rows_affected())
        })?;
        if deleted == 0 {
            return Err(Error::NotFound(format!("pipeline {id}")));
        }
        Ok(())
    }

    /// Every revision, newest first.
    pub async fn pipeline_history(&self, id: &str) -> Result<Vec<PipelineRevision>> {
        let rows: Vec<(i64, String, i64, String)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT revision, config, update_ts, last_modified_by FROM pipeline_revisions WHERE pipeline_id = $1 ORDER BY revision DESC")
                .bind(id).fetch_all(pool).await
        })?;
        rows.into_iter()
            .map(|(revision, config, update_ts, last_modified_by)| {
                let row = PipelineRow { id: id.to_string(), config, revision, update_ts, last_modified_by: last_modified_by.clone() };
                Ok(PipelineRevision { revision, update_ts, last_modified_by, pipeline: row.into_model()? })
            })
            .collect()
    }
}
