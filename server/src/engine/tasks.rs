//! What each stage type does, as tasks. A task looks at its stage and says: still running
//! (look again after a delay: nothing sleeps), succeeded (with outputs), or failed.

use std::collections::BTreeMap;

use app::model::execution::{Execution, Stage};
use app::model::pipeline::{NumberOrExpression, PreconditionKind, StageKind};
use serde_json::{Map, Value};

use super::{child, deploy, server_groups, webhook};
use crate::cloud::clouds::Clouds;
use crate::store::Store;

/// What tasks may use to reach outside: the HTTP client (webhooks), the store (to watch
/// child pipelines), the launcher (to start them) and the clouds (deploy and the other cloud
/// stages).
#[derive(Clone)]
pub struct Effects {
    pub http: reqwest::Client,
    pub store: Store,
    pub clouds: Clouds,
    pub notifier: crate::notify::Notifier,
    pub launcher: super::launcher::Launcher,
    /// Told when a run has ended (pipeline triggers listen).
    pub listeners: Vec<std::sync::Arc<dyn super::listeners::RunFinished>>,
}

/// How often a waiting task is looked at again, at most.
pub const POLL_MS: i64 = 1_000;

#[derive(Debug, Clone, PartialEq)]
pub enum TaskResult {
    Running { retry_after_ms: i64 },
    Succeeded { outputs: BTreeMap<String, Value> },
    /// Failed; the stage's failure options decide what that means for the pipeline.
    Failed { error: String },
    /// Failed, but only as a warning whatever the stage's failure options say: the stage ends
    /// FAILED_CONTINUE (a precondition with `failPipeline: false`).
    Warned { error: String },
}

/// The task names of a stage type, in order.
pub fn task_names(kind: &str) -> &'static [&'static str] {
    match kind {
        "wait" => &["wait"],
        "manualJudgment" => &["waitForJudgment"],
        "checkPreconditions" => &["checkPreconditions"],
        "evaluateVariables" => &["evaluateVariables"],
        "webhook" => &["createWebhook", "monitorWebhook"],
        "pipeline" => &["startPipeline", "monitorPipeline"],
        "deploy" => deploy::TASK_NAMES,
        other => server_groups::task_names(other).unwrap_or(&[]),
    }
}

/// What a stage does when its timeout stops it, said as a suffix of its error: a deploy rolls
/// back (with `rollback.onFailure`); other stages have nothing to undo.
pub async fn on_timeout(stage: &Stage, effects: &Effects) -> String {
    match stage_kind(stage) {
        Ok(StageKind::Deploy(config)) => deploy::roll_back_after_timeout(stage, &config, effects).await,
        _ => String::new(),
    }
}

/// Runs task `index` of `stage`; returns its result and keys to set in the stage's context.
/// `now` is the clock's time.
pub async fn run(execution: &Execution, stage: &Stage, index: usize, now: i64, effects: &Effects) -> (TaskResult, Map<String, Value>) {
    match stage_kind(stage) {
        Ok(StageKind::Webhook(hook)) if index == 0 => webhook::call(&effects.http, &hook, &stage.context).await,
        Ok(StageKind::Webhook(hook)) => webhook::monitor(&effects.http, &hook, &stage.context).await,
        Ok(StageKind::Pipeline(config)) if index == 0 => child::start(&effects.launcher, execution, stage, &config).await,
        Ok(StageKind::Pipeline(config)) => child::wait(&effects.store, stage, &config).await,
        Ok(StageKind::Deploy(config)) => deploy::run(execution, stage, &config, index, now, effects).await,
        Ok(kind) if server_groups::task_names(kind.type_name()).is_some() => {
            server_groups::run(execution, stage, &kind, index, now, effects).await
        }
        Ok(kind) => (run_local(execution, stage, kind, now), Map::new()),
        Err(error) => (TaskResult::Failed { error }, Map::new()),
    }
}

/// A running stage's cancel hook: stop what it started elsewhere (a child pipeline, a job
/// behind a webhook). Stages that only wait have nothing to undo.
pub async fn cancel(execution_id: &str, stage: &Stage, effects: &Effects) {
    match stage_kind(stage) {
        Ok(kind @ StageKind::RunJob(_)) => server_groups::cancel(execution_id, stage, &kind, effects).await,
        Ok(StageKind::Pipeline(_)) => child::cancel(&effects.store, stage).await,
        Ok(StageKind::Webhook(hook)) => webhook::cancel(&effects.http, &hook).await,
        _ => {}
    }
}

/// Tasks that only look at the execution.
fn run_local(execution: &Execution, stage: &Stage, kind: StageKind, now: i64) -> TaskResult {
    match kind {
        StageKind::Webhook(_)
        | StageKind::Pipeline(_)
        | StageKind::Deploy(_)
        | StageKind::ResizeServerGroup(_)
        | StageKind::EnableServerGroup(_)
        | StageKind::DisableServerGroup(_)
        | StageKind::DestroyServerGroup(_)
        | StageKind::RollbackServerGroup(_)
        | StageKind::CloneServerGroup(_)
        | StageKind::FindImage(_)
        | StageKind::ShrinkCluster(_)
        | StageKind::DisableCluster(_)
        | StageKind::ScaleDownCluster(_)
        | StageKind::RunJob(_) => unreachable!("run by `run`"),
        StageKind::Wait(wait) => {
            let seconds = match wait.wait_time {
                NumberOrExpression::Number(seconds) => seconds as i64,
                NumberOrExpression::Expression(text) => match text.trim().parse::<i64>() {
                    Ok(seconds) => seconds,
                    Err(_) => return TaskResult::Failed { error: format!("waitTime {text:?} is not a number of seconds") },
                },
            };
            if stage.context.get("skipRemainingWait").and_then(Value::as_bool) == Some(true) {
                return TaskResult::Succeeded { outputs: BTreeMap::new() };
            }
            let started = stage.start_time.unwrap_or(now);
            let remaining = started + seconds * 1000 - now;
            if remaining <= 0 {
                TaskResult::Succeeded { outputs: BTreeMap::new() }
            } else {
                TaskResult::Running { retry_after_ms: remaining.min(POLL_MS * 5) }
            }
        }
        StageKind::ManualJudgment(_) => match stage.context.get("judgmentStatus").and_then(Value::as_str) {
            Some("continue") => {
                let mut outputs = BTreeMap::new();
                if let Some(input) = stage.context.get("judgmentInput") {
                    outputs.insert("judgmentInput".to_string(), input.clone());
                }
                TaskResult::Succeeded { outputs }
            }
            Some("stop") => {
                let by = stage.context.get("lastModifiedBy").and_then(Value::as_str).unwrap_or("someone");
                TaskResult::Failed { error: format!("stopped by {by} at the manual judgment") }
            }
            // Judging re-runs this task at once; the poll is a safety net.
            _ => TaskResult::Running { retry_after_ms: POLL_MS * 30 },
        },
        StageKind::EvaluateVariables(evaluate) => {
            let outputs = evaluate.variables.into_iter().map(|variable| (variable.key, variable.value)).collect();
            TaskResult::Succeeded { outputs }
        }
        StageKind::CheckPreconditions(check) => {
            let mut failures = Vec::new();
            for precondition in &check.preconditions {
                let passed = match precondition.kind {
                    PreconditionKind::Expression => match &precondition.context.expression {
                        Some(Value::Bool(value)) => *value,
                        Some(Value::String(text)) => text.trim() == "true",
                        _ => false,
                    },
                    PreconditionKind::StageStatus => {
                        let name = precondition.context.stage_name.as_deref().unwrap_or_default();
                        let wanted = precondition.context.stage_status.as_deref().unwrap_or("SUCCEEDED");
                        execution.stages.iter().any(|s| s.name == name && s.status.as_str() == wanted)
                    }
                };
                if !passed {
                    let message = precondition.context.failure_message.clone().unwrap_or_else(|| match precondition.kind {
                        PreconditionKind::Expression => "an expression precondition is false".to_string(),
                        PreconditionKind::StageStatus => format!(
                            "stage {:?} is not {}",
                            precondition.context.stage_name.as_deref().unwrap_or_default(),
                            precondition.context.stage_status.as_deref().unwrap_or("SUCCEEDED")
                        ),
                    });
                    failures.push((precondition.fail_pipeline, message));
                }
            }
            // A failing precondition that fails the pipeline wins; the others only warn.
            match failures.iter().find(|(fail_pipeline, _)| *fail_pipeline) {
                Some((_, message)) => TaskResult::Failed { error: message.clone() },
                None => match failures.into_iter().next() {
                    Some((_, message)) => TaskResult::Warned { error: message },
                    None => TaskResult::Succeeded { outputs: BTreeMap::new() },
                },
            }
        }
    }
}


/// The stage's typed configuration, read from its (evaluated) context.
pub fn stage_kind(stage: &Stage) -> Result<StageKind, String> {
    let mut typed = stage.context.clone();
    if let Value::Object(map) = &mut typed {
        map.insert("type".to_string(), Value::String(stage.kind.clone()));
    }
    serde_json::from_value(typed).map_err(|error| format!("stage {} is misconfigured: {error}", stage.name))
}

