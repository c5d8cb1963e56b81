//! Sending one notification through its channel. Chat channels get their own JSON shapes
//! (Slack-compatible `{"text"}`, a Teams MessageCard, Google Chat `{"text"}`), the generic
//! webhook a JSON document describing the event, SMS a Twilio-compatible form post, email a
//! plain-text message over SMTP (lettre). Errors are the peer's answer, in words; addresses that
//! come from the secrets store never appear in them.

use app::model::execution::{Execution, Stage};
use app::model::notification::{Channel, NotificationConfig};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use serde_json::json;

use super::{Notifier, execution_link, subject};

/// A server setting's secret (the SMTP password, the SMS token).
async fn reveal(notifier: &Notifier, name: &str) -> Result<String, String> {
    let secrets = notifier.secrets.as_ref().ok_or("secrets are not available here")?;
    secrets.reveal(name).await.map(|value| value.expose_secret().to_string()).map_err(|_| format!("secret {name} is not in the secrets store"))
}

/// Where it goes: the address, or the secret holding it (if the secret's scope still lets
/// this run's pipeline use it).
async fn address(notifier: &Notifier, config: &NotificationConfig, execution: &Execution) -> Result<String, String> {
    match &config.secret_name {
        Some(name) => {
            let secrets = notifier.secrets.as_ref().ok_or("secrets are not available here")?;
            let value = secrets.reveal_for(name, &execution.application, &execution.pipeline_config_id).await.map_err(|error| error.to_string())?;
            Ok(value.expose_secret().to_string())
        }
        None => Ok(config.address.clone()),
    }
}

async fn post_json(notifier: &Notifier, url: &str, body: serde_json::Value, from_secret: bool) -> Result<(), String> {
    let target = if from_secret { "the secret URL" } else { url };
    // A refusal names the URL, and reqwest's errors carry it: a secret one must not reach
    // the execution.
    let request = notifier.http.post(url).map_err(|error| if from_secret { format!("{target} is refused") } else { error.to_string() })?;
    let response = request.json(&body).send().await.map_err(|error| {
        if from_secret { format!("cannot reach {target}") } else { format!("cannot reach {target}: {}", crate::outbound::describe(&error)) }
    })?;
    if response.status().is_success() {
        Ok(())
    } else {
        let status = response.status();
        if from_secret {
            // The peer's answer may echo what it was sent (the secret URL): only the status.
            return Err(format!("{target} answered {status}"));
        }
        let answer: String = notifier.http.text(response).await.unwrap_or_default().chars().take(200).collect();
        Err(format!("{target} answered {status}: {answer}"))
    }
}

pub async fn send(
    notifier: &Notifier,
    config: &NotificationConfig,
    execution: &Execution,
    event: &str,
    stage: Option<&Stage>,
    text: &str,
) -> Result<(), String> {
    let to = address(notifier, config, execution).await?;
    let from_secret = config.secret_name.is_some();
    match config.channel {
        Channel::Slack | Channel::Googlechat => post_json(notifier, &to, json!({ "text": text }), from_secret).await,
        Channel::Teams => {
            let card = json!({
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": subject(execution, event),
                "title": subject(execution, event),
                "text": text,
                "potentialAction": [{"@type": "OpenUri", "name": "Open in gennaker",
                    "targets": [{"os": "default", "uri": execution_link(&notifier.public_url, execution)}]}],
            });
            post_json(notifier, &to, card, from_secret).await
        }
        Channel::Webhook => {
            let document = json!({
                "event": event,
                "message": text,
                "link": execution_link(&notifier.public_url, execution),
                "execution": {"id": execution.id, "application": execution.application, "name": execution.name,
                    "status": execution.status, "trigger": {"type": execution.trigger.kind, "user": execution.trigger.user}},
                "stage": stage.map(|s| json!({"id": s.id, "name": s.name, "type": s.kind, "status": s.status, "error": s.error})),
            });
            post_json(notifier, &to, document, from_secret).await
        }
        Channel::Sms => {
            let sms = notifier.sms.as_ref().ok_or("SMS is not configured (--sms-api-url, --sms-account-sid, --sms-token-secret, --sms-from)")?;
            let token = reveal(notifier, &sms.token_secret).await?;
            let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", sms.api_url.trim_end_matches('/'), sms.account_sid);
            let response = notifier
                .http
                .post(&url)
                .map_err(|error| error.to_string())?
                .basic_auth(&sms.account_sid, Some(token))
                .form(&[("To", to.as_str()), ("From", sms.from.as_str()), ("Body", text)])
                .send()
                .await
                .map_err(|error| format!("cannot reach the SMS API: {}", crate::outbound::describe(&error)))?;
            if response.status().is_success() {
                Ok(())
            } else {
                let status = response.status();
                if from_secret {
                    // The API's answer may name the number, which came from a secret.
                    return Err(format!("the SMS API answered {status}"));
                }
                Err(format!("the SMS API answered {status}: {}", notifier.http.text(response).await.unwrap_or_default().chars().take(200).collect::<String>()))
            }
        }
        Channel::Email => send_email(notifier, &to, from_secret, &subject(execution, event), text).await,
        Channel::Hipchat => {
            let hipchat = notifier.hipchat.as_ref().ok_or("HipChat is not configured (--hipchat-url, --hipchat-token-secret)")?;
            let token = reveal(notifier, &hipchat.token_secret).await?;
            // The v2 room notification API; the room is its id or its name (encoded as a path
            // segment).
            let mut url = url::Url::parse(hipchat.url.trim_end_matches('/')).map_err(|error| format!("--hipchat-url: {error}"))?;
            url.path_segments_mut().map_err(|()| "--hipchat-url cannot take a path".to_string())?.pop_if_empty().extend(["v2", "room", to.as_str(), "notification"]);
            let url = url.to_string();
            let body = json!({"message": text, "message_format": "text", "color": hipchat_color(event), "notify": event.ends_with("failed") || event.starts_with("manualJudgment")});
            let response = notifier
                .http
                .post(&url)
                .map_err(|error| error.to_string())?
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .map_err(|error| format!("cannot reach HipChat: {}", crate::outbound::describe(&error)))?;
            if response.status().is_success() {
                Ok(())
            } else {
                let status = response.status();
                Err(format!("HipChat answered {status}: {}", notifier.http.text(response).await.unwrap_or_default().chars().take(200).collect::<String>()))
            }
        }
    }
}

/// HipChat's message colours, by how the event went.
fn hipchat_color(event: &str) -> &'static str {
    if event.ends_with("failed") || event == "manualJudgmentStop" {
        "red"
    } else if event.ends_with("complete") || event == "manualJudgmentContinue" {
        "green"
    } else if event == "manualJudgment" {
        "purple"
    } else {
        "yellow"
    }
}

async fn send_email(notifier: &Notifier, to: &str, from_secret: bool, subject: &str, text: &str) -> Result<(), String> {
    let smtp = notifier.smtp.as_ref().ok_or("email is not configured (--smtp-host)")?;
    let message = lettre::Message::builder()
        .from(smtp.from.parse().map_err(|error| format!("--smtp-from {:?}: {error}", smtp.from))?)
        .to(to.parse().map_err(|error| {
            if from_secret { "the address in the secret is not an email address".to_string() } else { format!("address {to:?}: {error}") }
        })?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(text.to_string())
        .map_err(|error| format!("cannot build the email: {error}"))?;
    let builder = match smtp.tls.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(|e| e.to_string())?,
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(|e| e.to_string())?,
        _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
    };
    let mut builder = builder.port(smtp.port).timeout(Some(std::time::Duration::from_secs(10)));
    if let Some(username) = &smtp.username {
        let password = match &smtp.password_secret {
            Some(name) => reveal(notifier, name).await?,
            None => String::new(),
        };
        builder = builder.credentials(Credentials::new(username.clone(), password));
    }
    // The server's refusal may quote the recipient, which may have come from a secret.
    builder.build().send(message).await.map(drop).map_err(|error| {
        if from_secret { format!("SMTP {}:{} refused the message", smtp.host, smtp.port) } else { format!("SMTP {}:{}: {error}", smtp.host, smtp.port) }
    })
}
