//! Notifications: which events of a run notify whom (`deliveries`), and delivering one
//! (`attempt`), called by the engine for its durable `Notify` message. This module knows
//! nothing of the engine (it is a library the engine uses): the engine turns each
//! [`Delivery`] into a queue message of its own. Each delivery is its own
//! queue message, so a slow or dead chat server never holds up the pipeline; a failed attempt
//! is retried with a doubling backoff, and after the last one the failure is recorded on the
//! execution (and logged). A notification never fails a run.
//!
//! - `channels`: how each channel sends (chat webhooks, generic webhook, SMS, email).

pub mod channels;

use std::sync::Arc;

use app::model::execution::{Execution, Stage, Status};
use app::model::notification::{NotificationConfig, NotificationRecord};
use serde_json::Value;

use crate::expressions::Scope;
use crate::secrets::Secrets;

/// Checks a pipeline's notifications (and its stages') when it is saved: known events, an
/// address or a secret the saver may use. What Spinnaker sends and gennaker cannot (a channel
/// type it lacks, a Slack channel name rather than a webhook URL) is kept with a warning, and
/// not sent.
pub async fn validate(
    store: &crate::store::Store,
    saver: &app::model::auth::Caller,
    pipeline: &app::model::pipeline::Pipeline,
) -> Result<Vec<String>, app::error::AppError> {
    use app::error::AppError;
    use app::model::notification::Channel;
    let stage_lists = pipeline.stages.iter().filter_map(|stage| {
        let value = serde_json::to_value(stage).ok()?;
        let list = value.get("notifications")?.as_array()?.clone();
        Some((format!("stages[{}].notifications", stage.ref_id), list))
    });
    let lists = std::iter::once(("notifications".to_string(), pipeline.notifications.clone())).chain(stage_lists);
    let mut warnings = Vec::new();
    for (prefix, list) in lists {
        for (index, raw) in list.iter().enumerate() {
            let field = format!("{prefix}[{index}]");
            let kind = raw.get("type").and_then(Value::as_str).unwrap_or_default();
            if serde_json::from_value::<Channel>(Value::String(kind.to_string())).is_err() {
                warnings.push(format!(
                    "{field}: notifications of type {kind:?} are kept but not sent (gennaker sends email, slack, teams, googlechat, sms, webhook and hipchat)"
                ));
                continue;
            }
            let config: NotificationConfig = app::model::lenient::from_value(raw).map_err(|fault| {
                let at = if fault.path.is_empty() { field.clone() } else { format!("{field}.{}", fault.path) };
                AppError::invalid(at, fault.message)
            })?;
            let address = config.address.trim();
            let is_url = address.starts_with("http://") || address.starts_with("https://") || address.contains("${");
            if config.channel == Channel::Slack && config.secret_name.is_none() && !is_url {
                warnings.push(format!(
                    "{field}: Slack channel {address:?} is kept but not sent to: gennaker posts to Slack incoming-webhook URLs (give the URL, or a secretName holding it)"
                ));
                continue;
            }
            config.check().map_err(|(name, message)| AppError::invalid(format!("{field}.{name}"), message))?;
            if let Some(name) = &config.secret_name {
                crate::secrets::require_usable(store, saver, &pipeline.application, &format!("{field}.secretName"), name).await?;
            }
        }
    }
    Ok(warnings)
}

/// Attempts per notification, the first included.
pub const MAX_ATTEMPTS: u32 = 5;

/// SMTP settings (`--smtp-*`).
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: String,
    pub from: String,
    pub username: Option<String>,
    /// The secret holding the password.
    pub password_secret: Option<String>,
}

/// A Twilio-compatible SMS API (`--sms-*`).
#[derive(Debug, Clone)]
pub struct SmsSettings {
    pub api_url: String,
    pub account_sid: String,
    /// The secret holding the auth token.
    pub token_secret: String,
    pub from: String,
}

/// A HipChat Server / Data Center (`--hipchat-*`).
#[derive(Debug, Clone)]
pub struct HipchatSettings {
    pub url: String,
    /// The secret holding the token.
    pub token_secret: String,
}

/// Everything delivery needs; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    pub http: crate::outbound::Outbound,
    pub secrets: Option<Arc<Secrets>>,
    /// Where people open gennaker, for links in messages.
    pub public_url: String,
    pub smtp: Option<SmtpSettings>,
    pub sms: Option<SmsSettings>,
    pub hipchat: Option<HipchatSettings>,
    /// The first retry's delay; each next one doubles.
    pub retry_base_ms: i64,
}

impl Default for Notifier {
    fn default() -> Self {
        Self {
            http: crate::outbound::Outbound::default(),
            secrets: None,
            public_url: "http://127.0.0.1:3000".into(),
            smtp: None,
            sms: None,
            hipchat: None,
            retry_base_ms: 1_000,
        }
    }
}

/// The notification configurations of a run or of one stage.
fn configs<'a>(execution: &'a Execution, stage: Option<&'a Stage>) -> &'a [Value] {
    match stage {
        None => &execution.notification_configs,
        Some(stage) => {
            if stage.context.get("sendNotifications").and_then(Value::as_bool) == Some(false) {
                return &[];
            }
            stage.context.get("notifications").and_then(Value::as_array).map_or(&[], Vec::as_slice)
        }
    }
}

fn wants(config: &Value, event: &str) -> bool {
    config.get("when").and_then(Value::as_array).is_some_and(|events| events.iter().any(|e| e.as_str() == Some(event)))
}

/// One notification to send: the run's configuration number `index` (or the stage's own,
/// with `own`) for `event` (about `stage`, for stage and judgment events), attempt `attempt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event: String,
    pub stage: Option<String>,
    pub own: bool,
    pub index: usize,
    pub attempt: u32,
}

/// The deliveries `event` calls for: the run's notifications that want it and, for stage
/// events, the stage's own.
pub fn deliveries(execution: &Execution, event: &str, stage: Option<&Stage>) -> Vec<Delivery> {
    let mut found = Vec::new();
    let mut add = |own: bool, index: usize| {
        found.push(Delivery { event: event.to_string(), stage: stage.map(|s| s.id.clone()), own, index, attempt: 0 });
    };
    for (index, config) in configs(execution, None).iter().enumerate() {
        if wants(config, event) {
            add(false, index);
        }
    }
    if let Some(stage) = stage {
        for (index, config) in configs(execution, Some(stage)).iter().enumerate() {
            if wants(config, event) {
                add(true, index);
            }
        }
    }
    found
}

/// The event a finished run or stage reports.
pub fn outcome_event(prefix: &str, status: Status) -> Option<String> {
    match status {
        Status::Succeeded => Some(format!("{prefix}.complete")),
        Status::Terminal | Status::FailedContinue | Status::Stopped => Some(format!("{prefix}.failed")),
        _ => None,
    }
}

pub fn execution_link(public_url: &str, execution: &Execution) -> String {
    format!("{}/applications/{}/executions/{}", public_url.trim_end_matches('/'), execution.application, execution.id)
}

/// The message's text: the configured one for the event (expressions evaluated), or the
/// default wording with a link to the run.
pub fn text(execution: &Execution, config: &NotificationConfig, event: &str, stage: Option<&Stage>, public_url: &str) -> String {
    let link = execution_link(public_url, execution);
    if let Some(custom) = config.message.get(event) {
        let (value, _) = Scope::for_execution(execution).evaluate_all(&Value::String(custom.text.clone()));
        let body = value.as_str().map_or_else(|| value.to_string(), str::to_string);
        return format!("{body}\n{link}");
    }
    let what = format!("{} / {}", execution.application, execution.name);
    let stage_name = stage.map_or("", |s| s.name.as_str());
    match event {
        "pipeline.starting" => format!("{what} is starting (triggered by {}).\n{link}", execution.trigger.user),
        "pipeline.complete" => format!("{what} succeeded.\n{link}"),
        "pipeline.failed" => {
            let reason = execution.stages.iter().find_map(|s| s.error.as_deref()).unwrap_or("no stage said why");
            format!("{what} failed: {reason}\n{link}")
        }
        "stage.starting" => format!("{what}: stage {stage_name} is starting.\n{link}"),
        "stage.complete" => format!("{what}: stage {stage_name} succeeded.\n{link}"),
        "stage.failed" => {
            let reason = stage.and_then(|s| s.error.as_deref()).unwrap_or("no reason given");
            format!("{what}: stage {stage_name} failed: {reason}\n{link}")
        }
        "manualJudgment" => {
            let instructions = stage.and_then(|s| s.context.get("instructions")).and_then(Value::as_str).unwrap_or_default();
            format!("{what} awaits your judgment at stage {stage_name}. {instructions}\nJudge it here: {link}")
        }
        "manualJudgmentContinue" | "manualJudgmentStop" => {
            let by = stage.and_then(|s| s.context.get("lastModifiedBy")).and_then(Value::as_str).unwrap_or("someone");
            let verdict = if event == "manualJudgmentContinue" { "continue" } else { "stop" };
            format!("{what}: {by} judged {verdict} at stage {stage_name}.\n{link}")
        }
        other => format!("{what}: {other}\n{link}"),
    }
}

/// The subject line of an email.
pub fn subject(execution: &Execution, event: &str) -> String {
    format!("[gennaker] {} / {}: {event}", execution.application, execution.name)
}

/// What one delivery attempt came to.
pub enum Attempt {
    /// Nothing to send (the configuration is gone or unreadable).
    Skipped,
    /// Record this on the execution (sent, or failed for good).
    Done(NotificationRecord),
    /// Try again after `delay_ms`.
    Retry { delivery: Delivery, delay_ms: i64 },
}

/// Sends one notification. It only reads the execution: the worker records the outcome with
/// retries of its own, so a concurrent change of the execution never makes it send twice.
#[allow(clippy::too_many_arguments)]
pub async fn attempt(
    execution: &Execution,
    event: &str,
    stage_id: Option<&str>,
    own: bool,
    index: usize,
    attempt: u32,
    now: i64,
    notifier: &Notifier,
) -> Attempt {
    let stage = stage_id.and_then(|id| execution.stage(id)).cloned();
    let raw = configs(execution, if own { stage.as_ref() } else { None }).get(index).cloned();
    let Some(raw) = raw else { return Attempt::Skipped };
    let config: NotificationConfig = match app::model::lenient::from_value(&raw).map_err(|fault| fault.to_string()) {
        Ok(config) => config,
        Err(error) => {
            tracing::warn!(%error, execution = %execution.id, "an unreadable notification was skipped");
            return Attempt::Skipped;
        }
    };
    let to = match &config.secret_name {
        Some(name) => format!("secret:{name}"),
        None => config.address.clone(),
    };
    let message = text(execution, &config, event, stage.as_ref(), &notifier.public_url);
    let result = channels::send(notifier, &config, execution, event, stage.as_ref(), &message).await;
    let attempts = attempt + 1;
    let record = |status: &str, error: Option<String>| NotificationRecord {
        event: event.to_string(),
        stage: stage_id.map(str::to_string),
        channel: config.channel,
        to: to.clone(),
        status: status.to_string(),
        attempts,
        error,
        at: now,
    };
    match result {
        Ok(()) => Attempt::Done(record("sent", None)),
        Err(error) if attempts < MAX_ATTEMPTS => {
            tracing::info!(%error, execution = %execution.id, event, attempt = attempts, "notification failed; retrying");
            let delay = notifier.retry_base_ms.max(1) << attempt.min(10);
            let delivery = Delivery { event: event.to_string(), stage: stage_id.map(str::to_string), own, index, attempt: attempts };
            Attempt::Retry { delivery, delay_ms: delay }
        }
        Err(error) => {
            tracing::warn!(%error, execution = %execution.id, event, channel = ?config.channel, "notification failed for good");
            Attempt::Done(record("failed", Some(error)))
        }
    }
}
