//! `pipeline`: the stage's two tasks: start a run of another pipeline, then wait for it. The
//! child's id is derived from the parent's and the stage's, so starting it again after a crash
//! finds it instead of starting a second one.

use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use app::error::AppError;
use app::model::execution::{Execution, Stage, Status};
use serde_json::{Map, Value, json};

use async_trait::async_trait;

use app::model::stage_types::{Field, Input, StageTypeInfo};
use crate::engine::stage_forms as F;
use super::{StageType, Step as Run, Task, config_or_fail, failed};
use crate::engine::launcher::{Launch, Launcher, RunAs};
use crate::engine::message::Message;
use crate::engine::tasks::{Effects, TaskResult};
use crate::store::executions::Outgoing;
use crate::store::{self, Store};

/// Runs another pipeline (of this or another application) with parameters and, by default,
/// waits for it: the stage fails if it fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineStage {
    pub application: String,
    /// The pipeline's id or name.
    pub pipeline: String,
    #[serde(default)]
    pub pipeline_parameters: BTreeMap<String, String>,
    #[serde(default = "crate::engine::targets::yes")]
    pub wait_for_completion: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

const POLL_MS: i64 = 1_000;
/// How often a parent looks at a child run that has not woken it.
const CHILD_SAFETY_NET_MS: i64 = 300_000;

fn child_id(parent: &Execution, stage: &Stage) -> String {
    format!("{}-{}", parent.id, stage.id)
}

pub async fn start(launcher: &Launcher, parent: &Execution, stage: &Stage, config: &PipelineStage) -> Run {
    let id = child_id(parent, stage);
    let mut patch = Map::new();
    patch.insert("executionId".into(), json!(id));
    let outputs: BTreeMap<String, Value> = [("executionId".to_string(), json!(id))].into_iter().collect();
    // Started before a crash or a redelivery: the same child, not a second one.
    if let Ok(Some(_)) = launcher.store().load_execution(&id).await {
        return (TaskResult::Succeeded { outputs }, patch);
    }
    let pipeline = match launcher.store().get_pipeline(&config.application, &config.pipeline).await {
        Ok(pipeline) => pipeline,
        Err(store::Error::NotFound(_)) => return failed(format!("pipeline {:?} not found in application {:?}", config.pipeline, config.application)),
        Err(error) => return failed(format!("cannot read pipeline {}: {error}", config.pipeline)),
    };
    let mut extra = BTreeMap::new();
    extra.insert("parentExecution".to_string(), json!({"id": parent.id, "application": parent.application, "name": parent.name}));
    extra.insert("parentStage".to_string(), json!(stage.id));
    let launch = Launch {
        pipeline,
        trigger_kind: "pipeline".into(),
        run_as: RunAs::ParentRun { user: parent.trigger.user.clone() },
        parameters: config.pipeline_parameters.clone(),
        extra,
        id: Some(id),
    };
    let name = launch.pipeline.name.clone();
    match launcher.launch(launch).await {
        Ok(_) => (TaskResult::Succeeded { outputs }, patch),
        // A database that failed us is retried; anything else about the child is final.
        Err(AppError::Internal | AppError::Unavailable { .. }) => {
            tracing::warn!(child = %name, "starting a child pipeline failed; retrying");
            (TaskResult::Running { retry_after_ms: POLL_MS }, Map::new())
        }
        Err(error) => failed(format!("cannot start pipeline {name}: {error}")),
    }
}

pub async fn wait(store: &Store, stage: &Stage, config: &PipelineStage) -> Run {
    if !config.wait_for_completion {
        return (TaskResult::Succeeded { outputs: BTreeMap::new() }, Map::new());
    }
    let Some(id) = stage.context.get("executionId").and_then(Value::as_str) else {
        return failed("the child pipeline's id was not recorded");
    };
    let child = match store.load_execution(id).await {
        Ok(Some((child, _))) => child,
        Ok(None) => return failed(format!("child execution {id} disappeared")),
        Err(_) => return (TaskResult::Polling { first_ms: POLL_MS }, Map::new()),
    };
    match child.status {
        Status::Succeeded => {
            let outputs: BTreeMap<String, Value> = [("childStatus".to_string(), json!("SUCCEEDED"))].into_iter().collect();
            (TaskResult::Succeeded { outputs }, Map::new())
        }
        status if status.is_complete() => failed(format!("pipeline {} ended {} (execution {id})", child.name, status.as_str())),
        // The child's end wakes this task (`Message::WakeStage`); the look every few minutes
        // is a safety net.
        _ => (TaskResult::Running { retry_after_ms: CHILD_SAFETY_NET_MS }, Map::new()),
    }
}

/// The cancel hook: a canceled parent cancels the child run it waits for.
pub async fn cancel(store: &Store, stage: &Stage) {
    let Some(id) = stage.context.get("executionId").and_then(Value::as_str) else { return };
    for _ in 0..10 {
        let Ok(Some((before, version))) = store.load_execution(id).await else { return };
        if before.status.is_complete() || before.canceled {
            return;
        }
        let mut child = before.clone();
        child.canceled = true;
        child.canceled_by = Some("parent pipeline".into());
        child.cancellation_reason = Some(format!("its parent stage {} was canceled", stage.name));
        let message = Outgoing {
            execution_id: id.to_string(),
            body: serde_json::to_string(&Message::CancelExecution { execution: id.to_string() }).expect("messages serialize"),
            deliver_at: crate::store::now_millis(),
        };
        match store.commit_step(None, Some(crate::store::executions::Changed::once(&before, version, &child)), &[message]).await {
            Ok(crate::store::executions::StepOutcome::Committed(_)) => return,
            Ok(crate::store::executions::StepOutcome::Conflict) => continue,
            Err(error) => {
                tracing::warn!(%error, child = id, "could not cancel a child pipeline");
                return;
            }
        }
    }
}

pub struct RunPipeline;

#[async_trait]
impl StageType for RunPipeline {
    fn type_name(&self) -> &'static str {
        "pipeline"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "pipeline",
            "Pipeline",
            "Runs another pipeline (of this or another application) and, by default, waits for it.",
            vec![
            Field::new("application", "Application", Input::Text, "The application of the pipeline to run."),
            Field::new("pipeline", "Pipeline", Input::Text, "Its name or id."),
            Field::new("pipelineParameters", "Parameters", Input::Pairs, "NAME=VALUE per line; values may be expressions."),
            Field::new("waitForCompletion", "Wait for it to finish", Input::Check, "The stage fails if the pipeline fails."),
        ],
            json!({"application": application, "pipeline": "", "waitForCompletion": true}),
        )
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<PipelineStage>(config).map(drop)
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["startPipeline", "monitorPipeline"]
    }

    /// Whoever saves the stage must be allowed to run the pipeline it starts.
    fn starts_pipelines_of(&self, config: &Value) -> Vec<String> {
        super::parse::<PipelineStage>(config).map(|child| vec![child.application]).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Run {
        let config: PipelineStage = config_or_fail!(task.stage);
        match task.index {
            0 => start(&task.effects.launcher, task.execution, task.stage, &config).await,
            _ => wait(&task.effects.store, task.stage, &config).await,
        }
    }

    /// A canceled parent cancels the child run it waits for.
    async fn cancel(&self, _execution_id: &str, stage: &Stage, effects: &Effects) {
        cancel(&effects.store, stage).await;
    }
}
