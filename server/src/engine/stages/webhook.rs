//! The webhook stage's two tasks: call the URL (retrying connection errors and 5xx with
//! backoff), then, with `waitForCompletion`, poll a status URL until its status is one of
//! `successStatuses` (or `terminalStatuses`/`canceledStatuses`). A step commits after its call,
//! so a crash between the two repeats the call: webhooks are at-least-once, as in Spinnaker.

use crate::outbound::Outbound;
use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use async_trait::async_trait;

use app::model::stage_types::{Field, Input, StageTypeInfo, choices};
use crate::engine::stage_forms as F;
use super::{StageType, Task, config_or_fail};
use crate::engine::tasks::TaskResult;

/// Calls a URL, and optionally polls a status URL until it reports success (Spinnaker's
/// webhook stage, same field names). Connection errors and 5xx answers are retried with backoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookStage {
    pub url: String,
    #[serde(default = "post")]
    pub method: String,
    #[serde(default)]
    pub custom_headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    #[serde(default)]
    pub wait_for_completion: bool,
    /// `getMethod` (poll `url`), `locationHeader` (poll the answer's Location) or
    /// `webhookResponse` (poll the URL found at `statusUrlJsonPath` in the answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_url_resolution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_url_json_path: Option<String>,
    /// Where the status is in the status answer, e.g. `$.status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_json_path: Option<String>,
    /// Comma-separated status values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_statuses: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canceled_statuses: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_statuses: Option<String>,
    /// Answers that fail the stage at once, without retries.
    #[serde(default)]
    pub fail_fast_status_codes: Vec<u16>,
    /// Answers retried like 5xx.
    #[serde(default)]
    pub retry_status_codes: Vec<u16>,
    /// Called when the stage is canceled while it runs (best effort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_payload: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn post() -> String {
    "POST".to_string()
}

/// Attempts of the first call before the stage fails.
pub const MAX_ATTEMPTS: i64 = 5;
const MAX_BACKOFF_MS: i64 = 30_000;
const POLL_MS: i64 = 1_000;
const TIMEOUT: Duration = Duration::from_secs(30);

/// A task's result and the keys to set in the stage's context.
pub type Run = super::Step;

fn backoff(attempt: i64) -> i64 {
    (500 * 2i64.pow(attempt.clamp(0, 10) as u32)).min(MAX_BACKOFF_MS)
}

/// Reads `$.a.b[0].c` (a small JSONPath subset: fields and indexes).
pub fn json_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    let path = path.trim().trim_start_matches('$');
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (field, indexes) = part.split_once('[').map_or((part, ""), |(f, rest)| (f, rest));
        if !field.is_empty() {
            current = current.get(field)?;
        }
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            current = current.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(current)
}

fn listed(list: &Option<String>, status: &str) -> bool {
    list.as_deref().is_some_and(|list| list.split(',').any(|s| s.trim().eq_ignore_ascii_case(status)))
}

/// Why a call failed, and whether trying again may help (a refused address will not).
struct CallFailed {
    retry: bool,
    why: String,
}

impl std::fmt::Display for CallFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

async fn send(http: &Outbound, method: &str, url: &str, webhook: &WebhookStage, body: Option<&Value>) -> Result<(u16, Option<String>, Value), CallFailed> {
    let final_failure = |why: String| CallFailed { retry: false, why };
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|e| final_failure(e.to_string()))?;
    let mut request = http.request(method, url).map_err(|error| final_failure(error.to_string()))?.timeout(TIMEOUT);
    for (name, value) in &webhook.custom_headers {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.map_err(|error| CallFailed {
        retry: !crate::outbound::is_refusal(&error),
        why: format!("cannot reach {url}: {}", crate::outbound::describe(&error)),
    })?;
    let status = response.status().as_u16();
    let location = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()).map(str::to_string);
    let text = http.text(response).await.map_err(|error| CallFailed { retry: true, why: format!("{url}: {error}") })?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, location, body))
}

/// Task 1: call the webhook.
pub async fn call(http: &Outbound, webhook: &WebhookStage, context: &Value) -> Run {
    let attempt = context.get("webhookAttempts").and_then(Value::as_i64).unwrap_or(0) + 1;
    let mut patch = Map::new();
    patch.insert("webhookAttempts".into(), json!(attempt));
    let retry = |patch: Map<String, Value>, why: String| {
        if attempt >= MAX_ATTEMPTS {
            (TaskResult::Failed { error: format!("{why} (gave up after {attempt} attempts)") }, patch)
        } else {
            (TaskResult::Running { retry_after_ms: backoff(attempt) }, patch)
        }
    };
    let (status, location, body) = match send(http, &webhook.method, &webhook.url, webhook, webhook.payload.as_ref()).await {
        Ok(answer) => answer,
        Err(CallFailed { retry: false, why }) => return (TaskResult::Failed { error: why }, patch),
        Err(CallFailed { why, .. }) => return retry(patch, why),
    };
    if webhook.fail_fast_status_codes.contains(&status) {
        return (TaskResult::Failed { error: format!("webhook answered {status} (a fail-fast status): {body}") }, patch);
    }
    if status >= 500 || webhook.retry_status_codes.contains(&status) {
        return retry(patch, format!("webhook answered {status}: {body}"));
    }
    if !(200..300).contains(&status) {
        return (TaskResult::Failed { error: format!("webhook answered {status}: {body}") }, patch);
    }
    let mut output = json!({"statusCode": status, "body": body});
    if webhook.wait_for_completion {
        let status_url = match webhook.status_url_resolution.as_deref().unwrap_or("getMethod") {
            "locationHeader" => location.map(|l| absolute(&webhook.url, &l)),
            "webhookResponse" => webhook
                .status_url_json_path
                .as_deref()
                .and_then(|path| json_path(&body, path))
                .and_then(Value::as_str)
                .map(|u| absolute(&webhook.url, u)),
            _ => Some(webhook.url.clone()),
        };
        let Some(status_url) = status_url else {
            return (TaskResult::Failed { error: "the webhook's answer gives no status URL to poll".into() }, patch);
        };
        patch.insert("webhookStatusUrl".into(), json!(status_url));
        output["statusUrl"] = json!(status_url);
    }
    let outputs = [("webhook".to_string(), output)].into_iter().collect();
    (TaskResult::Succeeded { outputs }, patch)
}

/// A relative status URL is resolved against the webhook's.
fn absolute(base: &str, url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        return url.to_string();
    }
    let origin_end = base.find("://").map(|i| i + 3).and_then(|i| base[i..].find('/').map(|j| i + j)).unwrap_or(base.len());
    format!("{}/{}", &base[..origin_end], url.trim_start_matches('/'))
}

/// Task 2: poll the status URL, when waiting for completion.
pub async fn monitor(http: &Outbound, webhook: &WebhookStage, context: &Value) -> Run {
    let patch = Map::new();
    if !webhook.wait_for_completion {
        return (TaskResult::Succeeded { outputs: Default::default() }, patch);
    }
    let Some(url) = context.get("webhookStatusUrl").and_then(Value::as_str) else {
        return (TaskResult::Failed { error: "no status URL recorded".into() }, patch);
    };
    let (status, _, body) = match send(http, "GET", url, webhook, None).await {
        Ok(answer) => answer,
        Err(_) => return (TaskResult::Running { retry_after_ms: POLL_MS * 5 }, patch),
    };
    if status >= 500 {
        return (TaskResult::Running { retry_after_ms: POLL_MS * 5 }, patch);
    }
    let path = webhook.status_json_path.as_deref().unwrap_or("$.status");
    let reported = match json_path(&body, path) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => return (TaskResult::Polling { first_ms: POLL_MS }, patch),
    };
    let mut outputs = std::collections::BTreeMap::new();
    outputs.insert("webhookStatus".to_string(), json!(reported));
    if listed(&webhook.success_statuses, &reported) {
        (TaskResult::Succeeded { outputs }, patch)
    } else if listed(&webhook.canceled_statuses, &reported) {
        (TaskResult::Failed { error: format!("the webhook's job was canceled (status {reported})") }, patch)
    } else if listed(&webhook.terminal_statuses, &reported) {
        (TaskResult::Failed { error: format!("the webhook's job failed (status {reported})") }, patch)
    } else {
        (TaskResult::Polling { first_ms: POLL_MS }, patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_and_urls() {
        let body = json!({"a": {"b": [{"c": "x"}]}, "status": "DONE"});
        assert_eq!(json_path(&body, "$.a.b[0].c"), Some(&json!("x")));
        assert_eq!(json_path(&body, "$.status"), Some(&json!("DONE")));
        assert_eq!(json_path(&body, "$.missing"), None);
        assert_eq!(absolute("http://h:1/hook", "/status/1"), "http://h:1/status/1");
        assert_eq!(absolute("http://h:1/hook", "https://o/x"), "https://o/x");
        assert!(listed(&Some("SUCCEEDED, done".into()), "DONE"));
        assert_eq!(backoff(1), 1000);
        assert_eq!(backoff(10), MAX_BACKOFF_MS);
    }
}

/// The cancel hook: call `cancelEndpoint`, if the stage has one. Failures are logged only: the
/// stage is canceled either way.
pub async fn cancel(http: &Outbound, webhook: &WebhookStage) {
    let Some(url) = &webhook.cancel_endpoint else { return };
    let method = webhook.cancel_method.as_deref().unwrap_or("POST");
    match send(http, method, url, webhook, webhook.cancel_payload.as_ref()).await {
        Ok((status, _, _)) if (200..300).contains(&status) => {}
        Ok((status, _, body)) => tracing::warn!(url, status, %body, "webhook cancel endpoint refused"),
        Err(error) => tracing::warn!(url, %error, "webhook cancel endpoint unreachable"),
    }
}

pub struct Webhook;

#[async_trait]
impl StageType for Webhook {
    fn type_name(&self) -> &'static str {
        "webhook"
    }

    fn describe(&self, _application: &str) -> StageTypeInfo {
        F::info(
            "webhook",
            "Webhook",
            "Calls a URL and optionally polls a status URL until it reports success.",
            vec![
            Field::new("url", "URL", Input::Text, "http:// or https://; may hold expressions."),
            Field::new("method", "Method", choices(&[("POST", "POST"), ("GET", "GET"), ("PUT", "PUT"), ("PATCH", "PATCH"), ("DELETE", "DELETE")]), ""),
            Field::new("customHeaders", "Headers", Input::Pairs, "Name=value per line."),
            Field::new("payload", "Payload (JSON)", Input::Json, "Sent as the body; may hold expressions."),
            Field::new("waitForCompletion", "Wait for completion", Input::Check, "Poll a status URL until it reports success."),
            Field::new(
                "statusUrlResolution",
                "Status URL",
                choices(&[
                    ("", "(do not poll)"),
                    ("getMethod", "Poll the same URL with GET"),
                    ("locationHeader", "Poll the Location header"),
                    ("webhookResponse", "Poll a URL found in the answer"),
                ]),
                "",
            ),
            Field::new("statusUrlJsonPath", "Status URL JSON path", Input::Text, "Where the status URL is in the answer, e.g. $.links.status."),
            Field::new("statusJsonPath", "Status JSON path", Input::Text, "Where the status is in the status answer, e.g. $.status."),
            Field::new("successStatuses", "Success statuses", Input::Text, "Comma-separated, e.g. DONE,OK."),
            Field::new("terminalStatuses", "Terminal statuses", Input::Text, "Comma-separated statuses that fail the stage."),
            Field::new("failFastStatusCodes", "Fail at once on", Input::Numbers, "HTTP codes that fail without retrying, e.g. 404, 422."),
        ],
            json!({"url": "https://example.com/hook", "method": "POST"}),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["createWebhook", "monitorWebhook"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let hook: WebhookStage = super::parse(config)?;
        if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&hook.method.to_ascii_uppercase().as_str()) {
            return Err(("method".into(), format!("unsupported method {:?}", hook.method)));
        }
        if hook.wait_for_completion && hook.success_statuses.is_none() {
            return Err(("successStatuses".into(), "waitForCompletion needs successStatuses".into()));
        }
        Ok(())
    }

    /// A URL that is not http(s) (often a placeholder such as `<webhook_url>` in a shared
    /// pipeline) is kept at save, and the pipeline cannot start until it is one.
    fn cannot_run(&self, config: &Value) -> Option<String> {
        // A missing url is a fault `validate` names.
        let url = config.get("url").and_then(Value::as_str)?.trim();
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://") || super::has_expression(url);
        (!scheme_ok).then(|| format!("its url {url:?} does not start with http:// or https://"))
    }

    async fn run(&self, task: Task<'_>) -> super::Step {
        let hook: WebhookStage = config_or_fail!(task.stage);
        match task.index {
            0 => call(&task.effects.http, &hook, &task.stage.context).await,
            _ => monitor(&task.effects.http, &hook, &task.stage.context).await,
        }
    }

    async fn cancel(&self, _execution_id: &str, stage: &app::model::execution::Stage, effects: &crate::engine::tasks::Effects) {
        if let Ok(hook) = super::config::<WebhookStage>(stage) {
            cancel(&effects.http, &hook).await;
        }
    }
}
