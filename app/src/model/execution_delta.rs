//! What changed in an execution between two of its states, small enough to send and store for
//! every engine step: the run's status and timing, and each stage that changed (its status,
//! timing and tasks, plus its context and outputs only when they changed). A new or reshaped
//! stage goes whole. The event log keeps a snapshot as each run's first event and deltas after
//! it, so the bytes a run stores and sends grow with its stages, not with their square.
//!
//! Every value in a delta is absolute (the new status, the new task list), never an increment:
//! applying a delta to a state that already includes it changes nothing, so a page that read
//! the run a little after the sequence number it watches from converges all the same.
//!
//! [`diff`] gives `None` when a change is not a delta's to describe (the trigger or the name
//! changed, a stage went away): the writer stores a snapshot instead.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::execution::{Execution, Stage, Status, Task};
use super::notification::NotificationRecord;
use super::time::EpochMillis;

/// The changes from one state of a run to the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDelta {
    pub id: String,
    pub application: String,
    pub status: Status,
    pub start_time: Option<EpochMillis>,
    pub end_time: Option<EpochMillis>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub canceled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canceled_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_reason: Option<String>,
    /// Stages that changed in place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageChange>,
    /// Stages that are new or whose shape (type, name, requisites, configuration) changed, whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_stages: Vec<Stage>,
    /// The stages' ids in order, when stages were added or reordered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_order: Option<Vec<String>>,
    /// The notification log, when it changed (it is short: one record per notification sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Vec<NotificationRecord>>,
}

/// One stage's change in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageChange {
    pub id: String,
    pub status: Status,
    pub start_time: Option<EpochMillis>,
    pub end_time: Option<EpochMillis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The tasks, when they changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<Task>>,
    /// The context, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// The outputs, when they changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<BTreeMap<String, Value>>,
}

/// Whether two states of a stage differ only in what a [`StageChange`] carries.
fn same_shape(before: &Stage, after: &Stage) -> bool {
    before.ref_id == after.ref_id
        && before.kind == after.kind
        && before.name == after.name
        && before.requisite_stage_ref_ids == after.requisite_stage_ref_ids
        && before.config == after.config
}

/// Whether two states of a run differ only in what an [`ExecutionDelta`] carries.
fn same_run(before: &Execution, after: &Execution) -> bool {
    before.id == after.id
        && before.application == after.application
        && before.pipeline_config_id == after.pipeline_config_id
        && before.name == after.name
        && before.trigger == after.trigger
        && before.build_time == after.build_time
        && before.limit_concurrent == after.limit_concurrent
        && before.keep_waiting_pipelines == after.keep_waiting_pipelines
        && before.notification_configs == after.notification_configs
}

/// The delta from `before` to `after`, or `None` when the change needs a snapshot. Applying
/// the delta to `before` gives `after` exactly.
pub fn diff(before: &Execution, after: &Execution) -> Option<ExecutionDelta> {
    if !same_run(before, after) {
        return None;
    }
    let ids_before: Vec<&str> = before.stages.iter().map(|stage| stage.id.as_str()).collect();
    let ids_after: Vec<&str> = after.stages.iter().map(|stage| stage.id.as_str()).collect();
    // A stage that went away has no delta (restarts rebuild stages: a snapshot then).
    if ids_before.iter().any(|id| !ids_after.contains(id)) {
        return None;
    }
    let mut stages = Vec::new();
    let mut new_stages = Vec::new();
    for stage in &after.stages {
        match before.stage(&stage.id) {
            Some(old) if old == stage => {}
            Some(old) if same_shape(old, stage) => stages.push(StageChange {
                id: stage.id.clone(),
                status: stage.status,
                start_time: stage.start_time,
                end_time: stage.end_time,
                error: stage.error.clone(),
                warnings: stage.warnings.clone(),
                tasks: (old.tasks != stage.tasks).then(|| stage.tasks.clone()),
                context: (old.context != stage.context).then(|| stage.context.clone()),
                outputs: (old.outputs != stage.outputs).then(|| stage.outputs.clone()),
            }),
            _ => new_stages.push(stage.clone()),
        }
    }
    let delta = ExecutionDelta {
        id: after.id.clone(),
        application: after.application.clone(),
        status: after.status,
        start_time: after.start_time,
        end_time: after.end_time,
        canceled: after.canceled,
        canceled_by: after.canceled_by.clone(),
        cancellation_reason: after.cancellation_reason.clone(),
        stages,
        new_stages,
        stage_order: (ids_before != ids_after).then(|| ids_after.iter().map(|id| (*id).to_string()).collect()),
        notifications: (before.notifications != after.notifications).then(|| after.notifications.clone()),
    };
    // The proof, not a hope: a delta that would not rebuild `after` is not used.
    let mut rebuilt = before.clone();
    delta.apply(&mut rebuilt);
    (rebuilt == *after).then_some(delta)
}

impl ExecutionDelta {
    /// Applies the delta to the run's state (it must be the same run). Stages it names that
    /// the state does not have (the state is older than the delta's base and missed a new
    /// stage) are left out; a later snapshot or the stage's next change brings them.
    pub fn apply(&self, execution: &mut Execution) {
        execution.status = self.status;
        execution.start_time = self.start_time;
        execution.end_time = self.end_time;
        execution.canceled = self.canceled;
        execution.canceled_by = self.canceled_by.clone();
        execution.cancellation_reason = self.cancellation_reason.clone();
        if let Some(notifications) = &self.notifications {
            execution.notifications = notifications.clone();
        }
        for change in &self.stages {
            let Some(stage) = execution.stage_mut(&change.id) else { continue };
            stage.status = change.status;
            stage.start_time = change.start_time;
            stage.end_time = change.end_time;
            stage.error = change.error.clone();
            stage.warnings = change.warnings.clone();
            if let Some(tasks) = &change.tasks {
                stage.tasks = tasks.clone();
            }
            if let Some(context) = &change.context {
                stage.context = context.clone();
            }
            if let Some(outputs) = &change.outputs {
                stage.outputs = outputs.clone();
            }
        }
        for stage in &self.new_stages {
            match execution.stage_mut(&stage.id) {
                Some(existing) => *existing = stage.clone(),
                None => execution.stages.push(stage.clone()),
            }
        }
        if let Some(order) = &self.stage_order {
            let mut stages = std::mem::take(&mut execution.stages);
            let mut ordered = Vec::with_capacity(order.len());
            for id in order {
                if let Some(at) = stages.iter().position(|stage| &stage.id == id) {
                    ordered.push(stages.swap_remove(at));
                }
            }
            execution.stages = ordered;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run() -> Execution {
        serde_json::from_value(json!({
            "id": "run-1", "application": "shop", "pipelineConfigId": "p", "name": "release", "status": "RUNNING",
            "trigger": {"type": "manual", "user": "ann", "parameters": {"env": "prod"}},
            "stages": [
                {"id": "1", "refId": "1", "type": "wait", "name": "Wait", "status": "RUNNING", "requisiteStageRefIds": [],
                 "context": {"waitTime": 5}, "tasks": [{"id": "1", "name": "wait", "status": "RUNNING", "startTime": 10, "endTime": null}],
                 "startTime": 10, "endTime": null},
                {"id": "2", "refId": "2", "type": "manualJudgment", "name": "Judge", "status": "NOT_STARTED", "requisiteStageRefIds": ["1"],
                 "context": {"instructions": "${parameters.env}"}, "startTime": null, "endTime": null}
            ],
            "buildTime": 1, "startTime": 10, "endTime": null, "limitConcurrent": false, "keepWaitingPipelines": false
        }))
        .expect("a run")
    }

    fn rebuilt(before: &Execution, delta: &ExecutionDelta) -> Execution {
        let mut state = before.clone();
        delta.apply(&mut state);
        state
    }

    #[test]
    fn a_stage_change_carries_only_that_stage_and_rebuilds_the_run() {
        let before = run();
        let mut after = before.clone();
        let judge = after.stage_mut("2").unwrap();
        judge.status = Status::Running;
        judge.start_time = Some(20);
        judge.context = json!({"instructions": "prod"});
        let delta = diff(&before, &after).expect("a delta");
        assert_eq!(delta.stages.len(), 1);
        assert_eq!(delta.stages[0].id, "2");
        assert!(delta.stages[0].tasks.is_none(), "unchanged tasks are not sent");
        assert!(delta.new_stages.is_empty() && delta.stage_order.is_none());
        assert_eq!(rebuilt(&before, &delta), after);
        let text = serde_json::to_string(&delta).unwrap();
        assert!(!text.contains("waitTime"), "the unchanged stage stays out: {text}");
        assert!(text.len() < serde_json::to_string(&after).unwrap().len() / 2);
    }

    #[test]
    fn a_new_stage_goes_whole_with_the_order() {
        let before = run();
        let mut after = before.clone();
        let mut synthetic = after.stages[0].clone();
        synthetic.id = "1-before".into();
        synthetic.name = "Prepare".into();
        after.stages.insert(0, synthetic);
        let delta = diff(&before, &after).expect("a delta");
        assert_eq!(delta.new_stages.len(), 1);
        assert_eq!(delta.stage_order.as_deref().unwrap(), ["1-before", "1", "2"]);
        assert_eq!(rebuilt(&before, &delta), after);
    }

    #[test]
    fn what_a_delta_cannot_say_needs_a_snapshot() {
        let before = run();
        let mut renamed = before.clone();
        renamed.trigger.parameters.insert("env".into(), "dev".into());
        assert!(diff(&before, &renamed).is_none(), "the trigger changed");
        let mut fewer = before.clone();
        fewer.stages.pop();
        assert!(diff(&before, &fewer).is_none(), "a stage went away");
    }

    #[test]
    fn applying_a_delta_twice_or_late_converges() {
        let first = run();
        let mut second = first.clone();
        second.stage_mut("1").unwrap().status = Status::Succeeded;
        second.stage_mut("1").unwrap().end_time = Some(15);
        let mut third = second.clone();
        third.stage_mut("2").unwrap().status = Status::Running;
        third.status = Status::Running;
        let one = diff(&first, &second).unwrap();
        let two = diff(&second, &third).unwrap();
        // A page read the run at its third state but watches from before the first delta.
        let mut page = third.clone();
        one.apply(&mut page);
        two.apply(&mut page);
        assert_eq!(page, third);
        let round_trip: ExecutionDelta = serde_json::from_str(&serde_json::to_string(&two).unwrap()).unwrap();
        assert_eq!(round_trip, two);
    }
}
