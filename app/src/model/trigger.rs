//! Pipeline triggers in Spinnaker's shapes (`pipeline.triggers[]`): what starts a pipeline
//! besides a person. Each has `enabled` and an optional `runAsUser`, the service account (or
//! user) the run acts as: its permissions decide what the run may do.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::pipeline::Extra;

fn yes() -> bool {
    true
}

/// One trigger of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<String>,
    #[serde(flatten)]
    pub kind: TriggerKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum TriggerKind {
    Manual(ManualTrigger),
    Cron(CronTrigger),
    Webhook(WebhookTrigger),
    Pipeline(PipelineTrigger),
    Git(GitTrigger),
    Docker(DockerTrigger),
    Jenkins(JenkinsTrigger),
}

pub const TRIGGER_TYPES: &[&str] = &["manual", "cron", "webhook", "pipeline", "git", "docker", "jenkins"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ManualTrigger {
    #[serde(flatten)]
    pub extra: Extra,
}

/// Runs on a schedule. `cronExpression` is Quartz's (as Spinnaker: seconds first, six or seven
/// fields, `?` allowed) or the classic five fields (minute first). `timeZone` is an IANA name
/// (default UTC). A run missed while gennaker was down is run once when it comes back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronTrigger {
    pub cron_expression: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// A stable id, set by the server when missing, so the schedule's state survives edits.
    #[serde(default)]
    pub id: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Starts when `POST /api/v1/webhooks/{source}` receives a payload whose fields match every
/// `payloadConstraints` regex (field paths use dots: `build.branch`). With `secretName`, the
/// call must carry `X-Gennaker-Signature-256: sha256=<hex HMAC-SHA256 of the body>` keyed with
/// that secret from the secrets store; without, the caller must be signed in (a token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTrigger {
    pub source: String,
    #[serde(default)]
    pub payload_constraints: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Starts when another pipeline's run ends with one of `status` (`successful`, `failed`,
/// `canceled`; default successful).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTrigger {
    pub application: String,
    /// The other pipeline's id or name.
    pub pipeline: String,
    #[serde(default)]
    pub status: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Starts on a push to a branch matching `branch` (a regex) of `project`/`slug`, from
/// `POST /api/v1/webhooks/git/{github|gitlab|bitbucket}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitTrigger {
    pub source: String,
    pub project: String,
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Starts once per new tag (or new digest of a tag) in a Docker registry's repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerTrigger {
    pub registry: String,
    pub repository: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Starts once per finished build of a Jenkins job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JenkinsTrigger {
    pub master: String,
    pub job: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_file: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The answer to a webhook call: the runs it started and the listening pipelines it did not
/// start, each with the reason (a payload constraint, a permission).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookResponse {
    pub triggered: Vec<TriggeredRun>,
    pub skipped: Vec<SkippedPipeline>,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggeredRun {
    pub application: String,
    pub pipeline: String,
    pub execution_id: String,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedPipeline {
    pub application: String,
    pub pipeline: String,
    pub reason: String,
}

/// The pipeline statuses a pipeline trigger can name, and the execution statuses each covers.
pub fn pipeline_trigger_matches(wanted: &[String], status: super::execution::Status) -> bool {
    use super::execution::Status;
    let name = match status {
        Status::Succeeded => "successful",
        Status::Terminal | Status::Stopped => "failed",
        Status::Canceled => "canceled",
        _ => return false,
    };
    if wanted.is_empty() { name == "successful" } else { wanted.iter().any(|w| w.eq_ignore_ascii_case(name)) }
}

/// Reads a payload field by a dotted path (`build.branch`, `commits.0.id`), as text.
pub fn payload_field(payload: &serde_json::Value, path: &str) -> Option<String> {
    let mut value = payload;
    for part in path.split('.') {
        value = match value {
            serde_json::Value::Object(map) => map.get(part)?,
            serde_json::Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::execution::Status;

    #[test]
    fn triggers_parse_in_spinnaker_shape() {
        let cron: TriggerConfig = serde_json::from_value(json!({"type": "cron", "cronExpression": "0 0/5 * * * ?", "enabled": true})).unwrap();
        assert!(matches!(cron.kind, TriggerKind::Cron(CronTrigger { ref cron_expression, .. }) if cron_expression == "0 0/5 * * * ?"));
        let hook: TriggerConfig =
            serde_json::from_value(json!({"type": "webhook", "source": "ci", "payloadConstraints": {"branch": "main"}, "runAsUser": "bot"})).unwrap();
        assert_eq!(hook.run_as_user.as_deref(), Some("bot"));
        assert!(hook.enabled, "enabled by default");
        assert!(serde_json::from_value::<TriggerConfig>(json!({"type": "carrier-pigeon"})).is_err());
    }

    #[test]
    fn pipeline_trigger_statuses() {
        assert!(pipeline_trigger_matches(&[], Status::Succeeded));
        assert!(!pipeline_trigger_matches(&[], Status::Terminal));
        assert!(pipeline_trigger_matches(&["failed".into()], Status::Terminal));
        assert!(pipeline_trigger_matches(&["canceled".into(), "successful".into()], Status::Canceled));
        assert!(!pipeline_trigger_matches(&["successful".into()], Status::Running));
    }

    #[test]
    fn payload_fields_by_dotted_path() {
        let payload = json!({"build": {"branch": "main", "number": 7}, "commits": [{"id": "abc"}]});
        assert_eq!(payload_field(&payload, "build.branch").as_deref(), Some("main"));
        assert_eq!(payload_field(&payload, "build.number").as_deref(), Some("7"));
        assert_eq!(payload_field(&payload, "commits.0.id").as_deref(), Some("abc"));
        assert_eq!(payload_field(&payload, "build.missing"), None);
    }
}
