//! Notifications through real peers on 127.0.0.1: a small HTTP receiver written here for the
//! chat and webhook channels (Slack, Teams and Google Chat webhooks are plain HTTPS POSTs; no
//! such service runs here, so this receiver stands in for them and records what arrives), and
//! a real SMTP server (aiosmtpd from PyPI, installed by `scripts/python-tools`) writing what it
//! receives to a maildir.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Db, TestApp, assert_error, spawn_app, spawn_app_with};

/// What the receiver got: (path, body).
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// An HTTP receiver: `/ok/<name>` answers 200, `/down/<name>` answers 500.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    async fn take(State(received): State<Received>, Path((mode, name)): Path<(String, String)>, body: String) -> StatusCode {
        let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
        received.lock().unwrap().push((format!("{mode}/{name}"), body));
        if mode == "ok" { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR }
    }
    let router = Router::new().route("/{mode}/{name}", post(take)).with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (address, received)
}

async fn run(app: &TestApp, application: &str, pipeline: &str) -> Value {
    let started: Value = app.post_json(&format!("/api/v1/applications/{application}/pipelines/{pipeline}/executions"), &json!({})).await.json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    wait_for(app, &id, |e| !["NOT_STARTED", "RUNNING"].contains(&e["status"].as_str().unwrap())).await
}

async fn wait_for(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let execution: Value = app.get(&format!("/api/v1/executions/{id}")).await.json().await.unwrap();
        if done(&execution) {
            return execution;
        }
        assert!(Instant::now() < deadline, "{execution:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn got(received: &Received, path: &str) -> Vec<Value> {
    received.lock().unwrap().iter().filter(|(p, _)| p == path).map(|(_, body)| body.clone()).collect()
}

async fn chat_and_webhook_notifications_arrive_and_failures_are_recorded(db: Db) {
    let app = spawn_app(db).await;
    let (base, received) = receiver().await;
    app.create_application("loud").await;
    let secret_url = format!("{base}/ok/hook");
    assert!(app.post_json("/api/v1/secrets", &json!({"name": "hook-url", "value": secret_url})).await.status().is_success());
    let pipeline = json!({"name": "noisy",
        "notifications": [
            {"type": "slack", "address": format!("{base}/ok/slack"), "when": ["pipeline.starting", "pipeline.complete", "pipeline.failed"]},
            {"type": "webhook", "secretName": "hook-url", "when": ["stage.failed", "pipeline.failed"]},
            {"type": "teams", "address": format!("{base}/ok/teams"), "when": ["pipeline.failed"],
             "message": {"pipeline.failed": {"text": "${execution.name} broke for ${trigger.user}"}}},
            {"type": "googlechat", "address": format!("{base}/down/chat"), "when": ["pipeline.failed"]}
        ],
        "stages": [{"refId": "1", "type": "checkPreconditions", "name": "gate",
            "preconditions": [{"type": "expression", "context": {"expression": "${1 == 2}", "failureMessage": "one is not two"}}]}]});
    let bad = json!({"name": "bad", "notifications": [{"type": "webhook", "address": "not a url", "when": ["pipeline.failed"]}]});
    assert_error(app.post_json("/api/v1/applications/loud/pipelines", &bad).await, 400, "invalid", Some("notifications[0].address")).await;
    let bad = json!({"name": "bad", "notifications": [{"type": "email", "address": "a@b.c", "when": ["lunch"]}]});
    assert_error(app.post_json("/api/v1/applications/loud/pipelines", &bad).await, 400, "invalid", Some("notifications[0].when")).await;
    let saved = app.post_json("/api/v1/applications/loud/pipelines", &pipeline).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());

    let execution = run(&app, "loud", "noisy").await;
    assert_eq!(execution["status"], "TERMINAL", "a failing notification never changes the outcome");
    let id = execution["id"].as_str().unwrap().to_string();
    // Every delivery and the retried failure end up recorded on the execution.
    let execution = wait_for(&app, &id, |e| e["notifications"].as_array().is_some_and(|n| n.len() == 6)).await;

    let slack = got(&received, "ok/slack");
    assert_eq!(slack.len(), 2, "starting and failed: {slack:?}");
    // Each notification is its own queue message, delivered by whichever worker is free: the
    // two may arrive in either order.
    let text_of = |wanted: &str| slack.iter().filter_map(|m| m["text"].as_str()).find(|text| text.contains(wanted)).map(str::to_string);
    assert!(text_of("is starting").is_some(), "{slack:?}");
    let failed_text = text_of("failed: one is not two").unwrap_or_default();
    let failed_text = failed_text.as_str();
    assert!(failed_text.contains("failed: one is not two") && failed_text.contains(&format!("/applications/loud/executions/{id}")), "{failed_text}");
    let hooks = got(&received, "ok/hook");
    let events: Vec<&str> = hooks.iter().map(|h| h["event"].as_str().unwrap()).collect();
    assert_eq!(events.len(), 2);
    assert!(events.contains(&"stage.failed") && events.contains(&"pipeline.failed"), "{events:?}");
    assert!(hooks.iter().all(|h| h["execution"]["id"] == id.as_str()));
    let teams = got(&received, "ok/teams");
    assert_eq!(teams[0]["@type"], "MessageCard");
    assert!(teams[0]["text"].as_str().unwrap().starts_with("noisy broke for admin"), "{teams:?}");
    assert_eq!(got(&received, "down/chat").len(), 5, "a failing channel is tried 5 times");

    let records = execution["notifications"].as_array().unwrap();
    let failed: Vec<&Value> = records.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{records:#?}");
    assert_eq!((failed[0]["type"].as_str(), failed[0]["attempts"].as_u64()), (Some("googlechat"), Some(5)));
    assert!(failed[0]["error"].as_str().unwrap().contains("500"), "{failed:?}");
    assert!(records.iter().any(|r| r["to"] == "secret:hook-url"));
    let text = serde_json::to_string(&execution).unwrap();
    assert!(!text.contains(&secret_url), "the secret URL never appears in the execution");
}

async fn a_manual_judgment_sends_its_link_to_chat(db: Db) {
    let app = spawn_app(db).await;
    let (base, received) = receiver().await;
    app.create_application("judge").await;
    let pipeline = json!({"name": "gated", "stages": [{"refId": "1", "type": "manualJudgment", "name": "Approve", "instructions": "Ship it?",
        "notifications": [{"type": "slack", "address": format!("{base}/ok/judges"), "when": ["manualJudgment", "manualJudgmentContinue"]}]}]});
    assert_eq!(app.post_json("/api/v1/applications/judge/pipelines", &pipeline).await.status(), 200);
    let started: Value = app.post_json("/api/v1/applications/judge/pipelines/gated/executions", &json!({})).await.json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got(&received, "ok/judges").is_empty() {
        assert!(Instant::now() < deadline, "no judgment notification");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = got(&received, "ok/judges")[0]["text"].as_str().unwrap().to_string();
    assert!(text.contains("Ship it?") && text.contains(&format!("{}/applications/judge/executions/{id}", app.address)), "{text}");
    let judged = app.client.patch(app.url(&format!("/api/v1/executions/{id}/stages/1"))).json(&json!({"judgmentStatus": "continue"})).send().await.unwrap();
    assert_eq!(judged.status(), 200);
    wait_for(&app, &id, |e| e["status"] == "SUCCEEDED").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got(&received, "ok/judges").len() < 2 {
        assert!(Instant::now() < deadline, "no continue notification");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(got(&received, "ok/judges")[1]["text"].as_str().unwrap().contains("admin judged continue"));
}

/// A real SMTP server: aiosmtpd from the project's venv, storing mail in a maildir.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    maildir: std::path::PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

fn smtp_server() -> SmtpServer {
    let python = std::env::var("GENNAKER_TEST_PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/tools/venv/bin/python").to_string());
    assert!(std::path::Path::new(&python).exists(), "no Python with aiosmtpd at {python}: run scripts/python-tools");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let maildir = std::env::temp_dir().join(format!("gennaker-mail-{}-{port}", std::process::id()));
    let child = std::process::Command::new(&python)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox", maildir.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("aiosmtpd starts");
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    SmtpServer { child, port, maildir }
}

fn mails(maildir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(maildir.join("new"))
        .map(|entries| entries.filter_map(Result::ok).filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pipeline_sends_an_email_with_the_execution_link() {
    let smtp = smtp_server();
    let port = smtp.port;
    let app = spawn_app_with(Db::Sqlite, |config| {
        config.notify.smtp_host = Some("127.0.0.1".into());
        config.notify.smtp_port = port;
        config.notify.smtp_tls = "none".into();
        config.notify.smtp_from = "gennaker@example.test".into();
    })
    .await;
    app.create_application("mail").await;
    let pipeline = json!({"name": "fragile",
        "notifications": [{"type": "email", "address": "oncall@example.test", "when": ["pipeline.failed"]}],
        "stages": [{"refId": "1", "type": "checkPreconditions", "name": "gate",
            "preconditions": [{"type": "expression", "context": {"expression": "${false}", "failureMessage": "the gate is shut"}}]}]});
    assert_eq!(app.post_json("/api/v1/applications/mail/pipelines", &pipeline).await.status(), 200);
    let execution = run(&app, "mail", "fragile").await;
    let id = execution["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mail = loop {
        if let Some(mail) = mails(&smtp.maildir).into_iter().next() {
            break mail;
        }
        assert!(Instant::now() < deadline, "no email arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(mail.contains("To: oncall@example.test"), "{mail}");
    assert!(mail.contains("Subject: [gennaker] mail / fragile: pipeline.failed"), "{mail}");
    assert!(mail.contains("the gate is shut"), "{mail}");
    assert!(mail.contains(&format!("/applications/mail/executions/{id}")), "{mail}");
    let execution = wait_for(&app, &id, |e| e["notifications"].as_array().is_some_and(|n| !n.is_empty())).await;
    assert_eq!(execution["notifications"][0]["status"], "sent");
}

/// SMS through a Twilio-compatible API: a receiver here answers Twilio's path and form (no
/// Twilio can run here; this stands in for it and records the form and the credentials).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_goes_through_a_twilio_compatible_api() {
    use axum::extract::Form;
    use axum::http::HeaderMap;
    use std::collections::BTreeMap;

    let got: Arc<Mutex<Vec<(String, BTreeMap<String, String>, String)>>> = Arc::default();
    let record = got.clone();
    let router = Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        post(move |Path(sid): Path<String>, headers: HeaderMap, Form(form): Form<BTreeMap<String, String>>| {
            let record = record.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                record.lock().unwrap().push((sid, form, auth));
                (StatusCode::CREATED, axum::Json(json!({"sid": "SM1", "status": "queued"})))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let app = spawn_app_with(Db::Sqlite, |config| {
        config.notify.sms_api_url = Some(base.clone());
        config.notify.sms_account_sid = "AC123".into();
        config.notify.sms_token_secret = "sms-token".into();
        config.notify.sms_from = "+15550000".into();
    })
    .await;
    assert!(app.post_json("/api/v1/secrets", &json!({"name": "sms-token", "value": "tok"})).await.status().is_success());
    app.create_application("texts").await;
    let pipeline = json!({"name": "quiet", "notifications": [{"type": "sms", "address": "+15551234", "when": ["pipeline.complete"]}], "stages": []});
    assert_eq!(app.post_json("/api/v1/applications/texts/pipelines", &pipeline).await.status(), 200);
    let execution = run(&app, "texts", "quiet").await;
    assert_eq!(execution["status"], "SUCCEEDED");
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no SMS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (sid, form, auth) = got.lock().unwrap()[0].clone();
    assert_eq!(sid, "AC123");
    assert_eq!((form["To"].as_str(), form["From"].as_str()), ("+15551234", "+15550000"));
    assert!(form["Body"].contains("texts / quiet succeeded"), "{form:?}");
    use base64::Engine as _;
    assert_eq!(auth, format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("AC123:tok")));
}

/// The application's notification defaults join every run of its pipelines.
async fn application_defaults_apply_to_every_pipeline(db: Db) {
    let app = spawn_app(db).await;
    let (base, received) = receiver().await;
    app.create_application("team").await;
    let bad = json!({"notifications": [{"type": "slack", "address": "nope", "when": ["pipeline.complete"]}]});
    assert_error(app.patch_json("/api/v1/applications/team", &bad).await, 400, "invalid", Some("notifications")).await;
    let defaults = json!({"notifications": [{"type": "webhook", "address": format!("{base}/ok/team"), "when": ["pipeline.complete"]}]});
    let patched: Value = app.patch_json("/api/v1/applications/team", &defaults).await.json().await.unwrap();
    assert_eq!(patched["notifications"][0]["type"], "webhook");
    for name in ["one", "two"] {
        let pipeline = json!({"name": name, "stages": []});
        assert_eq!(app.post_json("/api/v1/applications/team/pipelines", &pipeline).await.status(), 200);
        assert_eq!(run(&app, "team", name).await["status"], "SUCCEEDED");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while got(&received, "ok/team").len() < 2 {
        assert!(Instant::now() < deadline, "defaults did not notify: {:?}", got(&received, "ok/team"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let names: Vec<String> = got(&received, "ok/team").iter().map(|hook| hook["execution"]["name"].as_str().unwrap().to_string()).collect();
    assert!(names.contains(&"one".to_string()) && names.contains(&"two".to_string()), "{names:?}");
}

both_databases!(
    chat_and_webhook_notifications_arrive_and_failures_are_recorded,
    a_manual_judgment_sends_its_link_to_chat,
    application_defaults_apply_to_every_pipeline,
);

/// HipChat Server's v2 room notification API: a receiver here speaks it (no HipChat can run
/// here; Atlassian's cloud service is gone and the server product is not in any registry this
/// machine reaches): `POST /v2/room/{id or name}/notification` with a bearer token, answered
/// 204.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hipchat_room_gets_a_coloured_notification() {
    use axum::http::HeaderMap;

    let got: Arc<Mutex<Vec<(String, String, Value)>>> = Arc::default();
    let record = got.clone();
    let router = Router::new().route(
        "/v2/room/{room}/notification",
        post(move |Path(room): Path<String>, headers: HeaderMap, body: String| {
            let record = record.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                record.lock().unwrap().push((room, auth, serde_json::from_str(&body).unwrap_or(Value::Null)));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let app = spawn_app_with(Db::Sqlite, |config| {
        config.notify.hipchat_url = Some(base.clone());
        config.notify.hipchat_token_secret = "hipchat-token".into();
    })
    .await;
    assert!(app.post_json("/api/v1/secrets", &json!({"name": "hipchat-token", "value": "room-tok"})).await.status().is_success());
    app.create_application("rooms").await;
    let pipeline = json!({"name": "chatty", "notifications": [{"type": "hipchat", "address": "Release Room", "when": ["pipeline.failed"],
        "message": {"pipeline.failed": {"text": "${execution.name} broke"}}}],
        "stages": [{"refId": "1", "type": "checkPreconditions", "preconditions": [{"type": "expression", "context": {"expression": "${false}"}}]}]});
    let saved = app.post_json("/api/v1/applications/rooms/pipelines", &pipeline).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let execution = run(&app, "rooms", "chatty").await;
    assert_eq!(execution["status"], "TERMINAL");
    let id = execution["id"].as_str().unwrap().to_string();
    let execution = wait_for(&app, &id, |e| e["notifications"].as_array().is_some_and(|n| !n.is_empty())).await;
    assert_eq!(execution["notifications"][0]["status"], "sent", "{execution}");
    let (room, auth, body) = got.lock().unwrap()[0].clone();
    assert_eq!(room, "Release Room");
    assert_eq!(auth, "Bearer room-tok");
    assert_eq!(body["color"], "red");
    assert_eq!(body["message_format"], "text");
    assert_eq!(body["notify"], true);
    assert!(body["message"].as_str().unwrap().starts_with("chatty broke"), "{body}");
}
