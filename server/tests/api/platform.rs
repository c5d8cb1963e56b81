//! The platform around the resources: health, readiness, metrics, OpenAPI, and the real binary
//! surviving a restart and shutting down cleanly on SIGTERM.

use serde_json::json;

use crate::both_databases;
use crate::binary::{sign_in, start_binary, stop_with_sigterm};
use crate::helpers::{Db, fresh_database, spawn_app};

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

async fn data_survives_a_restart_of_the_binary(db: Db) {
    let database_url = fresh_database(db).await;
    let client = reqwest::Client::new();

    let first = start_binary(&database_url, &[]);
    let cookie = sign_in(&client, &first.address, "admin").await;
    let created = client
        .post(format!("{}/api/v1/applications", first.address))
        .header("cookie", &cookie)
        .header("origin", &first.address)
        .json(&json!({"name": "survivor", "email": "ops@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    stop_with_sigterm(first);

    let second = start_binary(&database_url, &[]);
    let read: serde_json::Value = client
        .get(format!("{}/api/v1/applications/survivor", second.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["email"], "ops@example.com");
    stop_with_sigterm(second);
}
