//! Expected artifacts bound when a run starts: from the trigger's artifacts (a manual start's,
//! a webhook payload's), else the previous run's, else the default; a run whose artifact cannot
//! be bound does not start and says which. Stages read what was bound.

use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Db, TestApp, assert_error, finished, spawn_app};

both_databases!(expected_artifacts_bind_from_the_trigger_the_prior_run_or_the_default);

async fn start(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/api/v1/applications/shop/pipelines/ship/executions", &body).await
}

async fn expected_artifacts_bind_from_the_trigger_the_prior_run_or_the_default(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("shop").await;
    let pipeline = json!({"name": "ship",
        "expectedArtifacts": [
            {"id": "image", "displayName": "Shop image", "usePriorArtifact": true,
             "matchArtifact": {"type": "docker/image", "name": "registry.example/shop"}},
            {"id": "config", "useDefaultArtifact": true, "matchArtifact": {"type": "http/file", "name": "config.yml"},
             "defaultArtifact": {"type": "http/file", "name": "config.yml", "reference": "https://files.example/config.yml"}}],
        "triggers": [{"type": "webhook", "source": "builds", "enabled": true}],
        "stages": [{"refId": "1", "type": "evaluateVariables", "name": "Read", "variables": [
            {"key": "image", "value": "${#triggerResolvedArtifact('registry.example/shop')['reference']}"},
            {"key": "config", "value": "${#triggerResolvedArtifactByType('http/file').reference}"}]}]});
    let saved = app.post_json("/api/v1/applications/shop/pipelines", &pipeline).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());

    // Nothing supplies the image and there is no earlier run: the start is refused, naming it.
    let refused = assert_error(start(&app, json!({})).await, 400, "invalid", Some("expectedArtifacts")).await;
    assert!(refused["error"]["message"].as_str().unwrap().contains("Shop image (image)"), "{refused}");
    let runs: Vec<Value> = app.get("/api/v1/executions?application=shop").await.json().await.unwrap();
    assert!(runs.is_empty(), "nothing started");

    // A manual start supplies it; the config falls back to its default.
    let image = json!({"type": "docker/image", "name": "registry.example/shop", "version": "v7", "reference": "registry.example/shop:v7"});
    let started: Value = start(&app, json!({"artifacts": [image]})).await.json().await.unwrap();
    let run = finished(&app, started["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let resolved = &run["trigger"]["resolvedExpectedArtifacts"];
    assert_eq!(resolved[0]["boundArtifact"]["version"], "v7");
    assert_eq!(resolved[0]["boundFrom"], "trigger");
    assert_eq!(resolved[1]["boundFrom"], "default");
    assert_eq!(run["stages"][0]["outputs"]["image"], "registry.example/shop:v7");
    assert_eq!(run["stages"][0]["outputs"]["config"], "https://files.example/config.yml");

    // Next time nothing is supplied: the image is the one the previous run bound.
    let started: Value = start(&app, json!({})).await.json().await.unwrap();
    let run = finished(&app, started["id"].as_str().unwrap()).await;
    assert_eq!(run["trigger"]["resolvedExpectedArtifacts"][0]["boundFrom"], "priorExecution");
    assert_eq!(run["stages"][0]["outputs"]["image"], "registry.example/shop:v7");

    // A webhook's payload brings artifacts too.
    let delivered: Value = app
        .post_json("/api/v1/webhooks/builds", &json!({"artifacts": [{"type": "docker/image", "name": "registry.example/shop", "version": "v8",
            "reference": "registry.example/shop:v8"}]}))
        .await
        .json()
        .await
        .unwrap();
    let id = delivered["triggered"][0]["executionId"].as_str().unwrap().to_string();
    let run = finished(&app, &id).await;
    assert_eq!(run["stages"][0]["outputs"]["image"], "registry.example/shop:v8", "{run}");

    // Two matching artifacts are ambiguous: refused, saying so.
    let twice = json!({"artifacts": [
        {"type": "docker/image", "name": "registry.example/shop", "version": "a"},
        {"type": "docker/image", "name": "registry.example/shop", "version": "b"}]});
    let refused = assert_error(start(&app, twice).await, 400, "invalid", Some("expectedArtifacts")).await;
    assert!(refused["error"]["message"].as_str().unwrap().contains("matches 2"), "{refused}");
}
