//! Executions: one run of a pipeline (or an ad-hoc task), with its stages and their tasks, as
//! the engine keeps them and the UI, REST and the event socket show them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::EpochMillis;

/// Spinnaker's statuses, with its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    NotStarted,
    /// Waiting for an earlier run of the same pipeline (`limitConcurrent`).
    Buffered,
    Running,
    Paused,
    Succeeded,
    /// Failed, but the pipeline carried on (`continuePipeline`).
    FailedContinue,
    /// Failed, and failed the pipeline.
    Terminal,
    Canceled,
    /// Not run: `stageEnabled` was false.
    Skipped,
    /// Halted its branch (`failPipeline: false` without `continuePipeline`).
    Stopped,
}

impl Status {
    pub fn is_complete(self) -> bool {
        matches!(self, Self::Succeeded | Self::FailedContinue | Self::Terminal | Self::Canceled | Self::Skipped | Self::Stopped)
    }

    /// Downstream stages may start after a stage that ended so.
    pub fn lets_downstream_run(self) -> bool {
        matches!(self, Self::Succeeded | Self::FailedContinue | Self::Skipped)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "NOT_STARTED",
            Self::Buffered => "BUFFERED",
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Succeeded => "SUCCEEDED",
            Self::FailedContinue => "FAILED_CONTINUE",
            Self::Terminal => "TERMINAL",
            Self::Canceled => "CANCELED",
            Self::Skipped => "SKIPPED",
            Self::Stopped => "STOPPED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(Value::String(text.to_string())).ok()
    }
}

/// What started a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// `manual`, `cron`, `webhook`, `pipeline`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub user: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub start_time: Option<EpochMillis>,
    pub end_time: Option<EpochMillis>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// Unique within the execution (the refId for configured stages).
    pub id: String,
    pub ref_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub status: Status,
    pub requisite_stage_ref_ids: Vec<String>,
    /// The stage's configuration; `${...}` replaced by their values once the stage started.
    pub context: Value,
    /// The configuration as written (expressions unevaluated), for restarts.
    #[serde(default)]
    pub config: Value,
    /// What the stage produced, readable by later stages as `stage("Name").outputs`.
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    #[serde(default)]
    pub tasks: Vec<Task>,
    pub start_time: Option<EpochMillis>,
    pub end_time: Option<EpochMillis>,
    /// Why it failed, in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Problems that did not fail it (an expression left unevaluated, say).
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: String,
    pub application: String,
    /// The pipeline this is a run of; empty for an ad-hoc task (`/api/v1/tasks`).
    pub pipeline_config_id: String,
    pub name: String,
    pub status: Status,
    pub trigger: Trigger,
    pub stages: Vec<Stage>,
    pub build_time: EpochMillis,
    pub start_time: Option<EpochMillis>,
    pub end_time: Option<EpochMillis>,
    #[serde(default)]
    pub canceled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canceled_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_reason: Option<String>,
    pub limit_concurrent: bool,
    pub keep_waiting_pipelines: bool,
    /// The pipeline's notifications when the run started (`pipeline.notifications`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_configs: Vec<Value>,
    /// What happened to each notification sent for this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<super::notification::NotificationRecord>,
}

impl Execution {
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|stage| stage.id == id)
    }

    pub fn stage_mut(&mut self, id: &str) -> Option<&mut Stage> {
        self.stages.iter_mut().find(|stage| stage.id == id)
    }
}

/// The body of `POST .../pipelines/{nameOrId}/executions`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartRequest {
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Artifacts the person starting the run supplies (Spinnaker's manual trigger
    /// `artifacts`), bound to the pipeline's `expectedArtifacts` like a trigger's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Object>))]
    pub artifacts: Vec<serde_json::Value>,
}

/// Which executions to list (`GET /api/v1/executions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionQuery {
    #[serde(default)]
    pub application: Option<String>,
    /// A pipeline id (or, with `application`, its name).
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Comma-separated statuses, e.g. `RUNNING,BUFFERED`.
    #[serde(default)]
    pub statuses: Option<String>,
    /// 1 to 500, default 25.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only runs with this trigger type (`manual`, `cron`, `webhook`, `pipeline`, `docker`, ...).
    #[serde(default)]
    pub trigger: Option<String>,
    /// Only runs built at or after this time (epoch milliseconds).
    #[serde(default)]
    pub started_after: Option<EpochMillis>,
    /// Only runs with a parameter value containing this text (case-insensitive).
    #[serde(default)]
    pub search: Option<String>,
    /// Only runs listed after this one (its id): the next, older page of the same query.
    #[serde(default)]
    pub before: Option<String>,
}

/// The body of the judgment call (Gate's shape).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Judgment {
    pub judgment_status: JudgmentStatus,
    #[serde(default)]
    pub judgment_input: Option<String>,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JudgmentStatus {
    Continue,
    Stop,
}

/// The first (and only) message a client sends on `/api/v1/ws`: what to watch, and the last
/// sequence number it saw (0 for everything). Exactly one of `execution` and `application`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subscribe {
    #[serde(default)]
    pub execution: Option<String>,
    #[serde(default)]
    pub application: Option<String>,
    #[serde(default)]
    pub after: i64,
}

/// A change pushed to subscribers, in order of `seq`: a run's first event (and any change a
/// delta cannot describe) is the whole run, every other one what changed since the run's
/// previous event (`execution_delta`). `{"seq", "ts", "execution": {...}}` or
/// `{"seq", "ts", "delta": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionEvent {
    pub seq: i64,
    pub ts: EpochMillis,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    /// The whole run.
    Execution(Execution),
    /// What changed since the run's previous event.
    Delta(super::execution_delta::ExecutionDelta),
}

impl Change {
    pub fn execution_id(&self) -> &str {
        match self {
            Self::Execution(execution) => &execution.id,
            Self::Delta(delta) => &delta.id,
        }
    }

    pub fn application(&self) -> &str {
        match self {
            Self::Execution(execution) => &execution.application,
            Self::Delta(delta) => &delta.application,
        }
    }

    /// The run's new state, given the state shown (`known`, the same run): a snapshot is the
    /// state itself; a delta needs the state it applies to (`None` without one).
    pub fn updated(self, known: Option<&Execution>) -> Option<Execution> {
        match self {
            Self::Execution(execution) => Some(execution),
            Self::Delta(delta) => known.filter(|known| known.id == delta.id).map(|known| {
                let mut state = known.clone();
                delta.apply(&mut state);
                state
            }),
        }
    }

    /// Applies the change to a run shown: a snapshot replaces it, a delta updates it.
    pub fn apply_to(self, shown: &mut Execution) {
        match self {
            Self::Execution(execution) if execution.id == shown.id => *shown = execution,
            Self::Delta(delta) if delta.id == shown.id => delta.apply(shown),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_use_spinnaker_names() {
        assert_eq!(serde_json::to_value(Status::FailedContinue).unwrap(), "FAILED_CONTINUE");
        assert_eq!(Status::parse("NOT_STARTED"), Some(Status::NotStarted));
        assert_eq!(Status::Terminal.as_str(), "TERMINAL");
        assert!(Status::Skipped.lets_downstream_run());
        assert!(!Status::Stopped.lets_downstream_run());
    }

    #[test]
    fn an_event_is_a_whole_run_or_a_delta_beside_its_seq() {
        let delta: crate::model::execution_delta::ExecutionDelta = serde_json::from_value(serde_json::json!({
            "id": "run-1", "application": "shop", "status": "RUNNING", "startTime": 5, "endTime": null,
            "stages": [{"id": "1", "status": "SUCCEEDED", "startTime": 5, "endTime": 9}]
        }))
        .unwrap();
        let event = ExecutionEvent { seq: 7, ts: 9, change: Change::Delta(delta) };
        let text = serde_json::to_value(&event).unwrap();
        assert_eq!(text["seq"], 7);
        assert_eq!(text["delta"]["stages"][0]["status"], "SUCCEEDED");
        assert!(text.get("execution").is_none());
        assert_eq!(serde_json::from_value::<ExecutionEvent>(text).unwrap(), event);
        assert_eq!(event.change.execution_id(), "run-1");
        assert_eq!(event.change.updated(None), None, "a delta needs the run it applies to");
    }
}
