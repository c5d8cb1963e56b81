//! The platform around the resources: health, readiness, metrics, OpenAPI, and the real binary
//! surviving a restart and shutting down cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::both_databases;
use crate::helpers::{Db, binary, fresh_database, spawn_app};

both_databases!(health_readiness_and_metrics, data_survives_a_restart_of_the_binary);

async fn health_readiness_and_metrics(db: Db) {
    let app = spawn_app(db).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["status"], "ready");

    app.get("/api/v1/applications").await;
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"gennaker_http_requests_total{method="GET",route="/api/v1/applications",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains("gennaker_http_request_duration_seconds_bucket"), "{text}");
}

#[tokio::test]
async fn openapi_document_lists_the_routes() {
    let app = spawn_app(Db::Sqlite).await;
    let doc: serde_json::Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths["/api/v1/applications"].get("post").is_some());
    assert!(paths["/api/v1/applications/{name}"].get("patch").is_some());
    assert!(doc["components"]["schemas"].get("NewApplication").is_some());
}

/// The real `gennaker serve` process, with its address read from its JSON log.
struct RunningBinary {
    child: Child,
    address: String,
}

fn start_binary(database_url: &str) -> RunningBinary {
    let mut child = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--database-url", database_url])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("gennaker starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let address = loop {
        assert!(Instant::now() < deadline, "gennaker did not report its address");
        let line = lines.next().expect("gennaker exited before listening").unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if let Some(address) = event["address"].as_str() {
            break address.to_string();
        }
    };
    // Keep draining the log so the process never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    RunningBinary { child, address }
}

fn stop_with_sigterm(mut running: RunningBinary) {
    let status = Command::new("kill").args(["-TERM", &running.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = running.child.try_wait().unwrap() {
            assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
            return;
        }
        assert!(Instant::now() < deadline, "gennaker ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn data_survives_a_restart_of_the_binary(db: Db) {
    let database_url = fresh_database(db).await;
    let client = reqwest::Client::new();

    let first = start_binary(&database_url);
    let created = client
        .post(format!("{}/api/v1/applications", first.address))
        .json(&json!({"name": "survivor", "email": "ops@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    stop_with_sigterm(first);

    let second = start_binary(&database_url);
    let read: serde_json::Value = client
        .get(format!("{}/api/v1/applications/survivor", second.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["email"], "ops@example.com");
    stop_with_sigterm(second);
}
