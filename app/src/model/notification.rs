//! Notifications in Spinnaker's shape (`pipeline.notifications[]`, and `notifications[]` on a
//! stage, e.g. a manual judgment): who hears about which events, through which channel. A
//! chat or webhook URL is a credential (whoever has it can post), so it may come from the
//! secrets store (`secretName`) instead of `address`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::pipeline::Extra;
use super::time::EpochMillis;

/// The events a notification can be `when`.
pub const EVENTS: &[&str] = &[
    "pipeline.starting",
    "pipeline.complete",
    "pipeline.failed",
    "stage.starting",
    "stage.complete",
    "stage.failed",
    "manualJudgment",
    "manualJudgmentContinue",
    "manualJudgmentStop",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// SMTP; `address` is the recipient.
    Email,
    /// A Slack-compatible incoming webhook URL.
    Slack,
    /// A Microsoft Teams incoming webhook URL.
    Teams,
    /// A Google Chat space webhook URL.
    Googlechat,
    /// A phone number, through a Twilio-compatible API.
    Sms,
    /// Any URL: a JSON document describing the event is POSTed to it.
    Webhook,
    /// A HipChat Server / Data Center room (its id or name), through the v2 room notification
    /// API of the server `--hipchat-url` names.
    Hipchat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationConfig {
    #[serde(rename = "type")]
    pub channel: Channel,
    /// The recipient: an email address, a phone number, or a URL.
    #[serde(default)]
    pub address: String,
    /// A secret holding the address (a chat webhook URL, say), instead of `address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The events that send it, from `EVENTS`.
    #[serde(default)]
    pub when: Vec<String>,
    /// Custom text per event (`{"pipeline.failed": {"text": "..."}}`); `${...}` allowed.
    #[serde(default)]
    pub message: BTreeMap<String, CustomMessage>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomMessage {
    pub text: String,
}

/// What happened to one notification of a run, kept on the execution (never the address
/// itself when it came from a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(rename = "type")]
    pub channel: Channel,
    /// The address, or `secret:<name>`.
    pub to: String,
    /// `sent` or `failed`.
    pub status: String,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: EpochMillis,
}

impl NotificationConfig {
    /// Checks what serde cannot: known events, an address or a secret.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(event) = self.when.iter().find(|event| !EVENTS.contains(&event.as_str())) {
            return Err(("when", format!("unknown event {event:?}; known: {}", EVENTS.join(", "))));
        }
        if self.address.trim().is_empty() && self.secret_name.is_none() {
            return Err(("address", "a notification needs an address (or a secretName holding it)".into()));
        }
        let is_url = self.address.starts_with("http://") || self.address.starts_with("https://") || self.address.contains("${");
        let needs_url = matches!(self.channel, Channel::Slack | Channel::Teams | Channel::Googlechat | Channel::Webhook);
        if needs_url && self.secret_name.is_none() && !is_url {
            return Err(("address", format!("a {:?} notification's address is an http(s) URL", self.channel).to_lowercase()));
        }
        if self.channel == Channel::Email && self.secret_name.is_none() && !self.address.contains('@') && !self.address.contains("${") {
            return Err(("address", "an email notification's address is an email address".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn notifications_parse_and_check() {
        let slack: NotificationConfig =
            serde_json::from_value(json!({"type": "slack", "secretName": "chat-hook", "when": ["pipeline.failed", "manualJudgment"]})).unwrap();
        assert_eq!(slack.check(), Ok(()));
        let bad_event: NotificationConfig = serde_json::from_value(json!({"type": "email", "address": "a@b.c", "when": ["lunch"]})).unwrap();
        assert_eq!(bad_event.check().unwrap_err().0, "when");
        let bad_url: NotificationConfig = serde_json::from_value(json!({"type": "webhook", "address": "ftp://x", "when": []})).unwrap();
        assert_eq!(bad_url.check().unwrap_err().0, "address");
        assert!(serde_json::from_value::<NotificationConfig>(json!({"type": "pigeon", "address": "x"})).is_err());
    }
}
