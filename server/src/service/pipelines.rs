//! Pipelines as REST and the UI use them: read, check (as a save would), save with
//! optimistic revisions, delete, history and restore; and the stage types the editor offers.

use app::error::{AppError, Result};
use app::model::auth::{Access, Caller};
use app::model::pipeline::{Pipeline, PipelineRevision, number_linear_stages, parse_pipeline};
use app::model::stage_types::StageCatalog;
use app::ssr::PipelineService;
use async_trait::async_trait;
use serde_json::Value;

use crate::auth::access::authorize;
use crate::auth::token;
use crate::expressions;
use crate::store::Store;

/// The largest pipeline JSON accepted: every run stores a copy, every event carries it.
const MAX_PIPELINE_BYTES: usize = 1 << 20;

/// A stored pipeline with what a reader should know about it (stages it cannot run).
fn with_warnings(mut pipeline: Pipeline) -> Pipeline {
    pipeline.warnings = crate::engine::stages::not_runnable(&pipeline);
    pipeline
}

pub struct Pipelines {
    store: Store,
}

impl Pipelines {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[async_trait]
impl PipelineService for Pipelines {
    async fn list(&self, caller: &Caller, application: &str) -> Result<Vec<Pipeline>> {
        authorize(&self.store, caller, application, Access::Read).await?;
        Ok(self.store.list_pipelines(application).await?.into_iter().map(with_warnings).collect())
    }

    async fn stage_types(&self, caller: &Caller, application: &str) -> Result<StageCatalog> {
        authorize(&self.store, caller, application, Access::Read).await?;
        Ok(crate::engine::stages::catalog(application))
    }

    async fn get(&self, caller: &Caller, application: &str, name_or_id: &str) -> Result<Pipeline> {
        authorize(&self.store, caller, application, Access::Read).await?;
        Ok(with_warnings(self.store.get_pipeline(application, name_or_id).await?))
    }

    async fn save(&self, caller: &Caller, application: &str, config: Value) -> Result<Pipeline> {
        let mut pipeline = self.check(caller, application, config).await?;
        let existing = if pipeline.id.is_empty() { None } else { self.store.get_pipeline(application, &pipeline.id).await.ok() };
        if existing.is_none() && !pipeline.id.is_empty() {
            // Ids are global, as in Spinnaker: one of another application's is not this one's.
            if let Some(owner) = self.store.pipeline_application(&pipeline.id).await? {
                return Err(AppError::conflict("id", format!("id {} belongs to a pipeline of application {owner}; leave id out to create a new one", pipeline.id)));
            }
        }
        let expected = match &existing {
            None => {
                if pipeline.id.is_empty() {
                    pipeline.id = token::new_id();
                }
                None
            }
            Some(current) if pipeline.revision == 0 => Some(current.revision),
            Some(_) => Some(pipeline.revision),
        };
        let warnings = std::mem::take(&mut pipeline.warnings);
        let mut saved = self.store.save_pipeline(&pipeline, expected, &caller.name).await?;
        saved.warnings = warnings;
        Ok(saved)
    }

    async fn check(&self, caller: &Caller, application: &str, mut config: Value) -> Result<Pipeline> {
        authorize(&self.store, caller, application, Access::Write).await?;
        let size = serde_json::to_vec(&config).map_or(0, |bytes| bytes.len());
        if size > MAX_PIPELINE_BYTES {
            return Err(AppError::invalid("pipeline", format!("a pipeline is at most {MAX_PIPELINE_BYTES} bytes of JSON, not {size}")));
        }
        let Some(object) = config.as_object_mut() else {
            return Err(AppError::invalid("pipeline", "a pipeline is a JSON object"));
        };
        // The server's own answers, sent back by a client that saves what it read.
        object.remove("warnings");
        match object.get("application").and_then(Value::as_str) {
            Some(named) if named != application => {
                return Err(AppError::invalid("application", format!("the body names application {named:?}, the path {application:?}")));
            }
            Some(_) => {}
            None => {
                object.insert("application".into(), Value::String(application.to_string()));
            }
        }
        // Spinnaker's "Edit as JSON" leaves the name out: an existing pipeline keeps its own.
        if object.get("name").and_then(Value::as_str).is_none_or(|name| name.trim().is_empty()) {
            if let Some(id) = object.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()) {
                if let Ok(existing) = self.store.get_pipeline(application, id).await {
                    object.insert("name".into(), Value::String(existing.name));
                }
            }
        }
        number_linear_stages(&mut config);
        let mut pipeline = parse_pipeline(&config).map_err(AppError::from)?;
        pipeline.document = Some(config);
        pipeline.validate(&expressions::check).map_err(AppError::from)?;
        let mut warnings = crate::engine::stages::validate_pipeline(&pipeline).map_err(AppError::from)?;
        warnings.extend(crate::triggers::webhook::validate(&self.store, caller, &mut pipeline).await?);
        warnings.extend(crate::notify::validate(&self.store, caller, &pipeline).await?);
        // Whoever saves a pipeline that changes cloud accounts must be allowed to deploy there
        // (checked again when it runs, as the run's user).
        crate::auth::access::require_accounts(&self.store, caller, crate::engine::stages::accounts_of(&pipeline)).await?;
        // ... and to act on every application whose resources its stages name.
        let acted_on = crate::engine::stages::applications_acted_on(&pipeline);
        crate::auth::access::require_applications_acted_on(&self.store, caller, application, acted_on).await?;
        // Whoever saves a pipeline that runs another must be allowed to run that one.
        // (An application that does not exist yet is checked when the stage runs.)
        for application in crate::engine::stages::applications_started_by(&pipeline) {
            if !application.contains("${") {
                match authorize(&self.store, caller, &application, Access::Execute).await {
                    Err(AppError::NotFound { .. }) => {}
                    other => other?,
                }
            }
        }
        // Stages that read accounts (a clusterSize precondition) need READ there.
        crate::auth::access::require_accounts_read(&self.store, caller, crate::engine::stages::accounts_read_by(&pipeline)).await?;
        pipeline.warnings = warnings;
        Ok(pipeline)
    }

    async fn delete(&self, caller: &Caller, application: &str, name_or_id: &str) -> Result<()> {
        authorize(&self.store, caller, application, Access::Write).await?;
        let pipeline = self.store.get_pipeline(application, name_or_id).await?;
        Ok(self.store.delete_pipeline(application, &pipeline.id).await?)
    }

    async fn history(&self, caller: &Caller, application: &str, name_or_id: &str) -> Result<Vec<PipelineRevision>> {
        authorize(&self.store, caller, application, Access::Read).await?;
        let pipeline = self.store.get_pipeline(application, name_or_id).await?;
        Ok(self.store.pipeline_history(&pipeline.id).await?)
    }

    async fn restore(&self, caller: &Caller, application: &str, name_or_id: &str, revision: i64) -> Result<Pipeline> {
        authorize(&self.store, caller, application, Access::Write).await?;
        let current = self.store.get_pipeline(application, name_or_id).await?;
        let history = self.store.pipeline_history(&current.id).await?;
        let old = history
            .into_iter()
            .find(|r| r.revision == revision)
            .ok_or_else(|| AppError::not_found(format!("revision {revision} of pipeline {name_or_id} not found")))?;
        let mut restored = old.pipeline;
        restored.id = current.id.clone();
        Ok(self.store.save_pipeline(&restored, Some(current.revision), &caller.name).await?)
    }
}

