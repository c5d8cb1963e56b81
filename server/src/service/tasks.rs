//! Ad-hoc tasks, Spinnaker's orchestrations: `POST /api/v1/tasks` with jobs that are stage
//! configurations. A task becomes an execution (no pipeline: `pipelineConfigId` is empty) whose
//! stages run one after another, so the engine tracks, retries and resumes it like any run,
//! and its events reach live subscribers of the application.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::error::{AppError, Result};
use app::model::auth::{Access, Caller};
use app::model::cluster::TaskRequest;
use app::model::execution::{Execution, Status};
use app::model::pipeline::parse_pipeline;
use app::ssr::{ExecutionService, TaskService};
use async_trait::async_trait;
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::engine::launcher::{Launch, Launched};
use crate::auth::access::authorize;
use crate::expressions;
use crate::store::executions::ExecutionFilter;

/// The most jobs one task may hold.
const MAX_JOBS: usize = 50;

pub struct Tasks {
    engine: Engine,
    executions: Arc<dyn ExecutionService>,
}

impl Tasks {
    pub fn new(engine: Engine, executions: Arc<dyn ExecutionService>) -> Self {
        Self { engine, executions }
    }

    /// The execution, if it is a task.
    async fn task(&self, caller: &Caller, id: &str) -> Result<Execution> {
        let execution = self.executions.get(caller, id).await?;
        if !execution.pipeline_config_id.is_empty() {
            return Err(AppError::not_found(format!("task {id} not found (it is a pipeline execution)")));
        }
        Ok(execution)
    }
}

#[async_trait]
impl TaskService for Tasks {
    async fn submit(&self, caller: &Caller, request: TaskRequest) -> Result<Execution> {
        let application = request.application.to_ascii_lowercase();
        authorize(self.engine.store(), caller, &application, Access::Execute).await?;
        if request.job.is_empty() || request.job.len() > MAX_JOBS {
            return Err(AppError::invalid("job", format!("a task has 1 to {MAX_JOBS} jobs")));
        }
        // Jobs run in order: each one's refId is its position, after the one before.
        let stages: Vec<Value> = request
            .job
            .iter()
            .enumerate()
            .map(|(index, job)| {
                let mut stage = job.clone();
                if let Value::Object(map) = &mut stage {
                    map.insert("refId".into(), json!((index + 1).to_string()));
                    map.insert("requisiteStageRefIds".into(), if index == 0 { json!([]) } else { json!([index.to_string()]) });
                    if !map.contains_key("name") {
                        let kind = map.get("type").and_then(Value::as_str).unwrap_or("job").to_string();
                        map.insert("name".into(), json!(kind));
                    }
                }
                stage
            })
            .collect();
        let description = if request.description.trim().is_empty() { "Ad-hoc task".to_string() } else { request.description.clone() };
        let config = json!({ "application": application, "name": description, "stages": stages, "limitConcurrent": false });
        // The jobs are the task's stages: an error names `job[0].capacity`, as the body does.
        let as_job = |mut error: app::model::pipeline::Invalid| {
            if let Some(rest) = error.field.strip_prefix("stages") {
                error.field = format!("job{rest}");
            }
            AppError::from(error)
        };
        let mut pipeline = parse_pipeline(&config).map_err(as_job)?;
        pipeline.validate(&expressions::check).map_err(as_job)?;
        crate::engine::stages::validate_pipeline(&pipeline).map_err(as_job)?;
        if let Some(index) = pipeline.stages.iter().position(|stage| crate::engine::stages::find(&stage.type_name).is_none()) {
            let kind = &pipeline.stages[index].type_name;
            return Err(AppError::invalid(format!("job[{index}].type"), format!("gennaker does not run jobs of type {kind:?}")));
        }
        pipeline.id = String::new();
        let launch = Launch::by(caller.clone(), pipeline, "manual", BTreeMap::new());
        let execution = match self.engine.launcher().launch(launch).await? {
            Launched::Started(execution) => execution,
            Launched::AlreadyStarted(id) => return Err(AppError::conflict("task", format!("task {id} exists already"))),
        };
        tracing::info!(task = %execution.id, application = %application, by = %caller.name, "task submitted");
        Ok(execution)
    }

    async fn get(&self, caller: &Caller, id: &str) -> Result<Execution> {
        self.task(caller, id).await
    }

    async fn list(&self, caller: &Caller, application: &str, limit: u32) -> Result<Vec<Execution>> {
        if limit == 0 || limit > 500 {
            return Err(AppError::invalid("limit", "limit must be 1 to 500"));
        }
        authorize(self.engine.store(), caller, application, Access::Read).await?;
        let filter = ExecutionFilter { application: Some(application.to_string()), pipeline_id: Some(String::new()), limit, ..Default::default() };
        Ok(self.engine.store().list_executions(&filter).await?)
    }

    async fn cancel(&self, caller: &Caller, id: &str) -> Result<Execution> {
        let task = self.task(caller, id).await?;
        if task.status.is_complete() || task.status == Status::NotStarted && task.canceled {
            return Ok(task);
        }
        self.executions.cancel(caller, id, Some("task canceled".into())).await
    }
}
