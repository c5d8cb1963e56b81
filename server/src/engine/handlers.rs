//! The engine's decisions: given a message and the execution as stored, change the execution
//! and say which messages come next. No I/O of their own (time is passed in; only the tasks a
//! RunTask runs may call out, through `Effects`), so every rule is testable alone; the worker
//! commits each call's result in one transaction with the message's acknowledgement,
//! so a redelivered message finds the state already moved on and does nothing (idempotence).
//!
//! Failure options, as Spinnaker's UI offers them: `failPipeline` (default) fails the pipeline
//! at once and cancels what still runs; `continuePipeline` marks the stage FAILED_CONTINUE and
//! goes on; `failPipeline: false` halts the branch (STOPPED) and the pipeline ends by its other
//! branches; `completeOtherBranchesThenFail` halts the branch, lets the others finish, then
//! fails the pipeline.

use app::model::execution::{Execution, Stage, Status, Task};
use app::model::pipeline::ExecutionWindow;
use serde_json::Value;

use crate::expressions::Scope;
use super::message::{Message, Next, notifications};
use super::tasks::{self, Effects, TaskResult};
use super::window;
use crate::notify;

pub async fn handle(message: &Message, execution: &mut Execution, now: i64, effects: &Effects) -> Vec<Next> {
    if let Message::RestartStage { stage, .. } = message {
        return restart_stage(execution, stage, now);
    }
    if let Message::Notify { .. } = message {
        // The worker delivers notifications itself (see `Engine::notify`).
        return Vec::new();
    }
    if let Message::AfterCompletion { .. } = message {
        if !execution.status.is_complete() {
            return Vec::new();
        }
        for listener in &effects.listeners {
            listener.run_finished(&effects.launcher, execution).await;
        }
        return wake_parent(execution);
    }
    if execution.status.is_complete() {
        return Vec::new();
    }
    match message {
        Message::ResumeExecution { .. } => resume_execution(execution),
        Message::RestartStage { .. } | Message::AfterCompletion { .. } | Message::Notify { .. } => unreachable!("handled above"),
        Message::StartExecution { .. } => start_execution(execution, now),
        Message::StartStage { stage, .. } => start_stage(execution, stage, now),
        Message::RunTask { stage, task, .. } => run_task(execution, stage, *task, now, effects).await,
        Message::WakeStage { stage, .. } => match waiting_task(execution, stage) {
            Some(task) => run_task(execution, stage, task, now, effects).await,
            None => Vec::new(),
        },
        Message::CompleteStage { stage, .. } => complete_stage(execution, stage, now, effects).await,
        Message::CompleteExecution { .. } => complete_execution(execution, now),
        Message::CancelExecution { .. } => cancel_execution(execution, now, effects).await,
    }
}

/// A child run that ended wakes the parent's `pipeline` stage waiting for it (the child's
/// trigger names them), rather than the parent polling.
fn wake_parent(child: &Execution) -> Vec<Next> {
    let parent = child.trigger.extra.get("parentExecution").and_then(|parent| parent.get("id")).and_then(Value::as_str);
    let stage = child.trigger.extra.get("parentStage").and_then(Value::as_str);
    match (parent, stage) {
        (Some(parent), Some(stage)) => vec![Next::now(Message::WakeStage { execution: parent.to_string(), stage: stage.to_string() })],
        _ => Vec::new(),
    }
}

/// The task of a running stage that is waiting (its first unfinished one).
fn waiting_task(execution: &Execution, stage_id: &str) -> Option<usize> {
    let stage = execution.stage(stage_id).filter(|stage| stage.status == Status::Running)?;
    stage.tasks.iter().position(|task| !task.status.is_complete())
}

fn start_execution(execution: &mut Execution, now: i64) -> Vec<Next> {
    if execution.status != Status::NotStarted {
        return Vec::new();
    }
    if execution.canceled {
        execution.status = Status::Canceled;
        execution.end_time = Some(now);
        return Vec::new();
    }
    execution.status = Status::Running;
    execution.start_time = Some(now);
    let id = execution.id.clone();
    let mut initial: Vec<Next> = execution
        .stages
        .iter()
        .filter(|stage| stage.requisite_stage_ref_ids.is_empty())
        .map(|stage| Next::now(Message::StartStage { execution: id.clone(), stage: stage.id.clone() }))
        .collect();
    if initial.is_empty() {
        initial.push(Next::now(Message::CompleteExecution { execution: id }));
    }
    initial.extend(notifications(execution, "pipeline.starting", None));
    initial
}

fn upstream_done(execution: &Execution, stage: &Stage) -> bool {
    stage.requisite_stage_ref_ids.iter().all(|ref_id| {
        execution.stages.iter().find(|s| &s.ref_id == ref_id).is_some_and(|s| s.status.lets_downstream_run())
    })
}

fn flag(context: &Value, name: &str) -> Option<bool> {
    context.get(name).and_then(Value::as_bool)
}

/// The status a failed stage ends with, from its failure options.
fn failure_status(stage: &Stage, soft: bool) -> Status {
    if flag(&stage.context, "continuePipeline") == Some(true) || soft {
        Status::FailedContinue
    } else if flag(&stage.context, "completeOtherBranchesThenFail") == Some(true) {
        Status::Stopped
    } else if flag(&stage.context, "failPipeline") == Some(false) {
        Status::Stopped
    } else {
        Status::Terminal
    }
}

fn fail_stage(execution: &mut Execution, stage_id: &str, error: String, now: i64) -> Vec<Next> {
    let id = execution.id.clone();
    let Some(stage) = execution.stage_mut(stage_id) else { return Vec::new() };
    stage.status = failure_status(stage, false);
    stage.error = Some(error);
    stage.start_time.get_or_insert(now);
    for task in stage.tasks.iter_mut().filter(|task| !task.status.is_complete()) {
        task.status = Status::Terminal;
        task.end_time = Some(now);
    }
    vec![Next::now(Message::CompleteStage { execution: id, stage: stage_id.to_string() })]
}

fn start_stage(execution: &mut Execution, stage_id: &str, now: i64) -> Vec<Next> {
    if execution.canceled || execution.status != Status::Running {
        return Vec::new();
    }
    let Some(stage) = execution.stage(stage_id) else { return Vec::new() };
    if stage.status != Status::NotStarted || !upstream_done(execution, stage) {
        return Vec::new();
    }
    let id = execution.id.clone();
    let stage = stage.clone();

    if flag(&stage.context, "restrictExecutionDuringTimeWindow") == Some(true) {
        let window = stage.context.get("restrictedExecutionWindow").cloned().map(serde_json::from_value::<ExecutionWindow>);
        match window {
            Some(Ok(window)) => match window::next_opening(&window, now) {
                None => {}
                Some(Ok(opens)) => {
                    let stage = execution.stage_mut(stage_id).expect("found above");
                    if let Value::Object(context) = &mut stage.context {
                        context.insert("executionWindowOpensAt".into(), Value::from(opens));
                    }
                    return vec![Next::after(Message::StartStage { execution: id, stage: stage_id.to_string() }, opens - now)];
                }
                Some(Err(())) => return fail_stage(execution, stage_id, "the execution window never opens".into(), now),
            },
            Some(Err(error)) => return fail_stage(execution, stage_id, format!("restrictedExecutionWindow: {error}"), now),
            None => return fail_stage(execution, stage_id, "restrictExecutionDuringTimeWindow is set but restrictedExecutionWindow is missing".into(), now),
        }
    }
    let scope = Scope::for_stage(execution, &stage);

    if let Some(expression) = stage.context.get("stageEnabled").and_then(|enabled| enabled.get("expression")).and_then(Value::as_str) {
        let expression = expression.trim();
        let expression = expression.strip_prefix("${").and_then(|e| e.strip_suffix('}')).unwrap_or(expression);
        match scope.evaluate(expression) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => {
                let stage = execution.stage_mut(stage_id).expect("found above");
                stage.status = Status::Skipped;
                stage.start_time = Some(now);
                stage.end_time = Some(now);
                return vec![Next::now(Message::CompleteStage { execution: id, stage: stage_id.to_string() })];
            }
            Ok(other) => return fail_stage(execution, stage_id, format!("stageEnabled expression gave {other}, not true or false"), now),
            Err(error) => return fail_stage(execution, stage_id, format!("stageEnabled: {error}"), now),
        }
    }

    // Spinnaker's `skipExpressionEvaluation`: a manifest's `${...}` is the manifest's own
    // (a Helm or shell template), left as written.
    let mut to_evaluate = stage.context.clone();
    let mut kept = Vec::new();
    if flag(&stage.context, "skipExpressionEvaluation") == Some(true)
        && let Some(context) = to_evaluate.as_object_mut()
    {
        // `manifests` (deployManifest) and `manifest` (runJobManifest).
        for key in ["manifests", "manifest"] {
            if let Some(value) = context.remove(key) {
                kept.push((key, value));
            }
        }
    }
    let (mut evaluated, failures) = scope.evaluate_all(&to_evaluate);
    if let Some(context) = evaluated.as_object_mut() {
        for (key, value) in kept {
            context.insert(key.into(), value);
        }
    }
    let strict = flag(&stage.context, "failOnFailedExpressions") != Some(false);
    let mut warnings = Vec::new();
    if let Some((field, error)) = failures.first() {
        if strict {
            return fail_stage(execution, stage_id, format!("field {field}: {error}"), now);
        }
        warnings = failures.iter().map(|(field, error)| format!("field {field}: {error} (left as text)")).collect();
    }
    let stage = execution.stage_mut(stage_id).expect("found above");
    stage.context = evaluated;
    stage.warnings.extend(warnings);
    // The evaluated configuration must hold what its type needs: an expression may have
    // produced a value the save could not check.
    let checked = match super::stages::find(&stage.kind) {
        Some(stage_type) => stage_type.validate(&stage.context),
        None => Err(("type".into(), format!("this server does not run stages of type {:?}", stage.kind))),
    };
    if let Err((field, message)) = checked {
        let at = if field.is_empty() { String::new() } else { format!(" ({field})") };
        let error = format!("stage {} is misconfigured{at}: {message}", stage.name);
        return fail_stage(execution, stage_id, error, now);
    }
    stage.status = Status::Running;
    stage.start_time = Some(now);
    stage.tasks = tasks::task_names(&stage.kind)
        .iter()
        .enumerate()
        .map(|(index, name)| Task { id: (index + 1).to_string(), name: (*name).to_string(), status: Status::NotStarted, start_time: None, end_time: None })
        .collect();
    let stage = stage.clone();
    let mut next = vec![Next::now(Message::RunTask { execution: id, stage: stage_id.to_string(), task: 0 })];
    next.extend(notifications(execution, "stage.starting", Some(&stage)));
    if tasks::awaits_judgment(&stage.kind) {
        next.extend(notifications(execution, "manualJudgment", Some(&stage)));
    }
    next
}

async fn run_task(execution: &mut Execution, stage_id: &str, index: usize, now: i64, effects: &Effects) -> Vec<Next> {
    if execution.canceled || execution.status != Status::Running {
        return Vec::new();
    }
    let Some(stage) = execution.stage(stage_id) else { return Vec::new() };
    let Some(task) = stage.tasks.get(index) else { return Vec::new() };
    if stage.status != Status::Running || task.status.is_complete() {
        return Vec::new();
    }
    if let (Some(timeout), Some(started)) = (stage.context.get("stageTimeoutMs").and_then(Value::as_i64), stage.start_time) {
        if now - started > timeout {
            let stage = stage.clone();
            let rolled_back = tasks::on_timeout(&stage, effects).await;
            return fail_stage(execution, stage_id, format!("timed out after {timeout} ms{rolled_back}"), now);
        }
    }
    let stage = stage.clone();
    let (result, patch) = tasks::run(execution, &stage, index, now, effects).await;
    let stage = execution.stage_mut(stage_id).expect("found above");
    if let Value::Object(context) = &mut stage.context {
        context.extend(patch);
    }
    let task = &mut stage.tasks[index];
    task.status = Status::Running;
    task.start_time.get_or_insert(now);
    if tasks::awaits_judgment(&stage.kind) && !matches!(result, TaskResult::Running { .. } | TaskResult::Polling { .. }) {
        let event = match stage.context.get("judgmentStatus").and_then(Value::as_str) {
            Some("continue") => Some("manualJudgmentContinue"),
            Some("stop") => Some("manualJudgmentStop"),
            _ => None,
        };
        if let Some(event) = event {
            let stage = stage.clone();
            let mut next = run_task_outcome(execution, stage_id, index, result, now);
            next.extend(notifications(execution, event, Some(&stage)));
            return next;
        }
    }
    run_task_outcome(execution, stage_id, index, result, now)
}

/// Applies a task's result to its stage and says what comes next.
fn run_task_outcome(execution: &mut Execution, stage_id: &str, index: usize, result: TaskResult, now: i64) -> Vec<Next> {
    let soft = matches!(result, TaskResult::Warned { .. });
    let id = execution.id.clone();
    let Some(stage) = execution.stage_mut(stage_id) else { return Vec::new() };
    let task = &mut stage.tasks[index];
    match result {
        TaskResult::Running { .. } | TaskResult::Polling { .. } => {
            let delay = match result {
                TaskResult::Polling { first_ms } => tasks::poll_delay(first_ms, task.start_time.unwrap_or(now), now),
                TaskResult::Running { retry_after_ms } => retry_after_ms,
                _ => unreachable!("matched above"),
            };
            // A stage with a timeout is looked at when it expires, however long the task
            // asked to wait.
            let deadline = stage.context.get("stageTimeoutMs").and_then(Value::as_i64).zip(stage.start_time).map(|(timeout, started)| started + timeout + 1 - now);
            let delay = deadline.map_or(delay, |deadline| delay.min(deadline)).max(1);
            vec![Next::after(Message::RunTask { execution: id, stage: stage_id.to_string(), task: index }, delay)]
        }
        TaskResult::Succeeded { outputs } => {
            task.status = Status::Succeeded;
            task.end_time = Some(now);
            stage.outputs.extend(outputs);
            if index + 1 < stage.tasks.len() {
                vec![Next::now(Message::RunTask { execution: id, stage: stage_id.to_string(), task: index + 1 })]
            } else {
                stage.status = Status::Succeeded;
                vec![Next::now(Message::CompleteStage { execution: id, stage: stage_id.to_string() })]
            }
        }
        TaskResult::Failed { error } | TaskResult::Warned { error } => {
            task.status = Status::Terminal;
            task.end_time = Some(now);
            stage.status = failure_status(stage, soft);
            stage.error = Some(error);
            vec![Next::now(Message::CompleteStage { execution: id, stage: stage_id.to_string() })]
        }
    }
}

/// True when nothing runs and nothing can start any more.
fn finished(execution: &Execution) -> bool {
    !execution.stages.iter().any(|stage| {
        stage.status == Status::Running || (stage.status == Status::NotStarted && upstream_done(execution, stage))
    })
}

async fn complete_stage(execution: &mut Execution, stage_id: &str, now: i64, effects: &Effects) -> Vec<Next> {
    let id = execution.id.clone();
    let Some(stage) = execution.stage_mut(stage_id) else { return Vec::new() };
    if !stage.status.is_complete() {
        return Vec::new();
    }
    stage.end_time.get_or_insert(now);
    let status = stage.status;
    let ref_id = stage.ref_id.clone();
    let stage = stage.clone();
    let events = notify::outcome_event("stage", status).map(|event| notifications(execution, &event, Some(&stage))).unwrap_or_default();

    if status == Status::Terminal {
        // Fail fast: what still runs elsewhere is canceled.
        cancel_running_stages(execution, now, effects).await;
        let mut next = vec![Next::now(Message::CompleteExecution { execution: id })];
        next.extend(events);
        return next;
    }
    let mut next: Vec<Next> = events;
    if status.lets_downstream_run() {
        next = execution
            .stages
            .iter()
            .filter(|s| s.status == Status::NotStarted && s.requisite_stage_ref_ids.contains(&ref_id) && upstream_done(execution, s))
            .map(|s| Next::now(Message::StartStage { execution: id.clone(), stage: s.id.clone() }))
            .collect();
    }
    if next.is_empty() && finished(execution) {
        next.push(Next::now(Message::CompleteExecution { execution: id }));
    }
    next
}

fn complete_execution(execution: &mut Execution, now: i64) -> Vec<Next> {
    if !finished(execution) {
        return Vec::new();
    }
    let halted_then_fail = execution
        .stages
        .iter()
        .any(|s| s.status == Status::Stopped && flag(&s.context, "completeOtherBranchesThenFail") == Some(true));
    execution.status = if execution.canceled {
        Status::Canceled
    } else if execution.stages.iter().any(|s| s.status == Status::Terminal) || halted_then_fail {
        Status::Terminal
    } else {
        Status::Succeeded
    };
    execution.end_time = Some(now);
    let mut next = vec![Next::now(Message::AfterCompletion { execution: execution.id.clone() })];
    if let Some(event) = notify::outcome_event("pipeline", execution.status) {
        next.extend(notifications(execution, &event, None));
    }
    next
}

/// While PAUSED, StartStage and RunTask do nothing (their messages are dropped); resuming
/// recreates what is needed from the state: a RunTask for each running stage's current task, a
/// StartStage for each stage ready to start, or the completion when nothing is left.
fn resume_execution(execution: &mut Execution) -> Vec<Next> {
    if execution.status != Status::Paused {
        return Vec::new();
    }
    execution.status = Status::Running;
    let id = execution.id.clone();
    let mut next = Vec::new();
    for stage in &execution.stages {
        match stage.status {
            Status::Running => {
                let task = stage.tasks.iter().position(|t| !t.status.is_complete()).unwrap_or(0);
                next.push(Next::now(Message::RunTask { execution: id.clone(), stage: stage.id.clone(), task }));
            }
            Status::NotStarted if upstream_done(execution, stage) => {
                next.push(Next::now(Message::StartStage { execution: id.clone(), stage: stage.id.clone() }));
            }
            _ => {}
        }
    }
    if next.is_empty() {
        next.push(Next::now(Message::CompleteExecution { execution: id }));
    }
    next
}

/// Resets a finished stage and every stage downstream of it to NOT_STARTED with their
/// configuration as written (expressions are evaluated again), reopens the execution, and
/// starts the stage.
fn restart_stage(execution: &mut Execution, stage_id: &str, now: i64) -> Vec<Next> {
    let Some(stage) = execution.stage(stage_id) else { return Vec::new() };
    if !stage.status.is_complete() || execution.canceled {
        return Vec::new();
    }
    let mut reset = vec![stage.ref_id.clone()];
    let mut index = 0;
    while index < reset.len() {
        let ref_id = reset[index].clone();
        for downstream in execution.stages.iter().filter(|s| s.requisite_stage_ref_ids.contains(&ref_id)) {
            if !reset.contains(&downstream.ref_id) {
                reset.push(downstream.ref_id.clone());
            }
        }
        index += 1;
    }
    for stage in execution.stages.iter_mut().filter(|s| reset.contains(&s.ref_id)) {
        stage.status = Status::NotStarted;
        if !stage.config.is_null() {
            stage.context = stage.config.clone();
        }
        stage.outputs.clear();
        stage.tasks.clear();
        stage.start_time = None;
        stage.end_time = None;
        stage.error = None;
        stage.warnings.clear();
    }
    // Branches canceled by the failure are not restarted; the execution runs again.
    execution.status = Status::Running;
    execution.end_time = None;
    execution.start_time.get_or_insert(now);
    vec![Next::now(Message::StartStage { execution: execution.id.clone(), stage: stage_id.to_string() })]
}

/// Cancels every running stage, calling its cancel hook first.
async fn cancel_running_stages(execution: &mut Execution, now: i64, effects: &Effects) {
    for stage in execution.stages.iter().filter(|s| s.status == Status::Running) {
        tasks::cancel(&execution.id, stage, effects).await;
    }
    for stage in execution.stages.iter_mut().filter(|s| s.status == Status::Running) {
        stage.status = Status::Canceled;
        stage.end_time = Some(now);
        for task in stage.tasks.iter_mut().filter(|t| !t.status.is_complete()) {
            task.status = Status::Canceled;
            task.end_time = Some(now);
        }
    }
}

async fn cancel_execution(execution: &mut Execution, now: i64, effects: &Effects) -> Vec<Next> {
    execution.canceled = true;
    cancel_running_stages(execution, now, effects).await;
    execution.status = Status::Canceled;
    execution.end_time = Some(now);
    vec![Next::now(Message::AfterCompletion { execution: execution.id.clone() })]
}
