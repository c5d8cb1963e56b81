//! Running a stage's tasks: the engine's door to the stage-type registry (`stages`). A task
//! looks at its stage and says: still running (look again after a delay: nothing sleeps),
//! succeeded (with outputs), or failed.

use std::collections::BTreeMap;

use app::model::execution::{Execution, Stage};
use serde_json::{Map, Value};

use super::stages;
use crate::cloud::clouds::Clouds;
use crate::store::Store;

/// What tasks may use to reach outside: the HTTP client (webhooks), the store (to watch
/// child pipelines), the launcher (to start them) and the clouds (deploy and the other cloud
/// stages).
#[derive(Clone)]
pub struct Effects {
    pub http: crate::outbound::Outbound,
    pub store: Store,
    pub clouds: Clouds,
    pub notifier: crate::notify::Notifier,
    pub launcher: super::launcher::Launcher,
    /// Told when a run has ended (pipeline triggers listen).
    pub listeners: Vec<std::sync::Arc<dyn super::listeners::RunFinished>>,
    /// Jenkins masters by name (`--jenkins-master name=url`), for the `jenkins` stage.
    pub jenkins_masters: std::collections::BTreeMap<String, String>,
    /// The secrets store, for credentials stages use on a run's behalf (a file artifact's
    /// token), revealed only within each secret's scope.
    pub secrets: Option<std::sync::Arc<crate::secrets::Secrets>>,
}

/// How often a waiting task is looked at again, at most.
pub const POLL_MS: i64 = 1_000;
/// The longest a polling task waits between looks (see [`TaskResult::Polling`]).
pub const MAX_POLL_MS: i64 = 15_000;

#[derive(Debug, Clone, PartialEq)]
pub enum TaskResult {
    /// Not done; run again after exactly this long (a wait's end, the next canary interval,
    /// or a safety net behind a wake-up such as a judgment's).
    Running { retry_after_ms: i64 },
    /// Not done: the task watches state elsewhere (a cloud, a webhook, a child run) that tells
    /// it nothing when it changes. Looked at again after `first_ms` at first, then less often
    /// the longer the task has waited (a tenth of the time waited, up to [`MAX_POLL_MS`]), so
    /// a long deploy or build costs a few looks a minute rather than one a second.
    Polling { first_ms: i64 },
    Succeeded { outputs: BTreeMap<String, Value> },
    /// Failed; the stage's failure options decide what that means for the pipeline.
    Failed { error: String },
    /// Failed, but only as a warning whatever the stage's failure options say: the stage ends
    /// FAILED_CONTINUE (a precondition with `failPipeline: false`).
    Warned { error: String },
}

/// How long a polling task that started at `started` waits before its next look at `now`.
pub fn poll_delay(first_ms: i64, started: i64, now: i64) -> i64 {
    ((now - started) / 10).clamp(first_ms.max(1), MAX_POLL_MS.max(first_ms))
}

/// The task names of a stage type, in order (none for a type this build does not know).
pub fn task_names(kind: &str) -> &'static [&'static str] {
    stages::find(kind).map_or(&[], |stage_type| stage_type.task_names())
}

/// Whether a stage of this type waits for a person's judgment.
pub fn awaits_judgment(kind: &str) -> bool {
    stages::find(kind).is_some_and(|stage_type| stage_type.awaits_judgment())
}

/// What a stage does when its timeout stops it, said as a suffix of its error (a deploy rolls
/// back with `rollback.onFailure`; most stages have nothing to undo).
pub async fn on_timeout(stage: &Stage, effects: &Effects) -> String {
    match stages::find(&stage.kind) {
        Some(stage_type) => stage_type.on_timeout(stage, effects).await,
        None => String::new(),
    }
}

/// Runs task `index` of `stage`; returns its result and keys to set in the stage's context.
/// `now` is the clock's time.
pub async fn run(execution: &Execution, stage: &Stage, index: usize, now: i64, effects: &Effects) -> (TaskResult, Map<String, Value>) {
    let Some(stage_type) = stages::find(&stage.kind) else {
        return stages::failed(format!("stage type {:?} is not supported by this version of gennaker", stage.kind));
    };
    let first_delivery = index == 0 && stage.tasks.first().is_some_and(|task| task.start_time.is_none());
    if first_delivery && let Err(error) = may_act(execution, stage, stage_type, effects).await {
        return stages::failed(error.to_string());
    }
    stage_type.run(stages::Task { execution, stage, index, now, effects }).await
}

/// Before a stage's first task acts, its evaluated configuration is checked as the run's user
/// (an account or a resource name written as an expression is only known now): WRITE on the
/// accounts it changes and on every other application whose resources it names.
async fn may_act(execution: &Execution, stage: &Stage, stage_type: &dyn stages::StageType, effects: &Effects) -> Result<(), app::error::AppError> {
    let accounts: std::collections::BTreeSet<String> = stage_type.accounts(&stage.context).into_iter().collect();
    let acted_on: std::collections::BTreeSet<String> =
        stage_type.applications_acted_on(&stage.context).into_iter().filter(|application| application != &execution.application).collect();
    if accounts.is_empty() && acted_on.is_empty() {
        return Ok(());
    }
    let caller = effects.launcher.caller_named(&execution.trigger.user).await?;
    crate::auth::access::require_accounts(&effects.store, &caller, accounts).await?;
    crate::auth::access::require_applications_acted_on(&effects.store, &caller, &execution.application, acted_on).await
}

/// A running stage's cancel hook: stop what it started elsewhere (a child pipeline, a job
/// behind a webhook). Stages that only wait have nothing to undo.
pub async fn cancel(execution_id: &str, stage: &Stage, effects: &Effects) {
    if let Some(stage_type) = stages::find(&stage.kind) {
        stage_type.cancel(execution_id, stage, effects).await;
    }
}

