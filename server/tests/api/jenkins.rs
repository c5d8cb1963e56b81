//! The `jenkins` stage against a Jenkins-shaped server. No Jenkins can run here (it is not in
//! this machine's registries), so this test double answers the calls Spinnaker's Jenkins stage
//! makes, as Jenkins answers them: a CSRF crumb, `buildWithParameters` answered 201 with the
//! queue item's `Location`, the queue item (waiting, then with its build number), the build
//! (building, then its result and artifacts) and the property file artifact.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, finished, spawn_app_with};

/// What the double saw and how its builds end, by job.
#[derive(Default)]
struct Jenkins {
    port: u16,
    started: Vec<(String, BTreeMap<String, String>)>,
    looks: BTreeMap<String, u32>,
    stopped: Vec<String>,
}

type Shared = Arc<Mutex<Jenkins>>;

fn result_of(job: &str) -> &'static str {
    if job.contains("flaky") { "UNSTABLE" } else { "SUCCESS" }
}

async fn crumb() -> axum::Json<Value> {
    axum::Json(json!({"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": "c0ffee", "crumbRequestField": "Jenkins-Crumb"}))
}

async fn build_with_parameters(
    State(jenkins): State<Shared>,
    Path((folder, job)): Path<(String, String)>,
    headers: HeaderMap,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> impl IntoResponse {
    if headers.get("Jenkins-Crumb").and_then(|value| value.to_str().ok()) != Some("c0ffee") {
        return (StatusCode::FORBIDDEN, HeaderMap::new(), "No valid crumb was included in the request");
    }
    let mut jenkins = jenkins.lock().unwrap();
    jenkins.started.push((format!("{folder}/{job}"), parameters));
    let item = jenkins.started.len();
    let mut answer = HeaderMap::new();
    answer.insert(header::LOCATION, format!("http://127.0.0.1:{}/queue/item/{item}/", jenkins.port).parse().unwrap());
    (StatusCode::CREATED, answer, "")
}

/// Waiting on the first look, then started as build 40 + item number.
async fn queue_item(State(jenkins): State<Shared>, Path(item): Path<usize>) -> axum::Json<Value> {
    let mut jenkins = jenkins.lock().unwrap();
    let looks = jenkins.looks.entry(format!("queue{item}")).or_default();
    *looks += 1;
    let first = *looks == 1;
    if first {
        return axum::Json(json!({"blocked": false, "why": "Waiting for next available executor"}));
    }
    let (job, _) = jenkins.started[item - 1].clone();
    let (folder, name) = job.split_once('/').unwrap();
    let number = 40 + item;
    axum::Json(json!({"executable": {"number": number, "url": format!("http://127.0.0.1:{}/job/{folder}/job/{name}/{number}/", jenkins.port)}}))
}

/// Building on the first look, then finished.
async fn build(State(jenkins): State<Shared>, Path((folder, job, number)): Path<(String, String, u64)>) -> axum::Json<Value> {
    let mut jenkins = jenkins.lock().unwrap();
    let url = format!("http://127.0.0.1:{}/job/{folder}/job/{job}/{number}/", jenkins.port);
    let looks = jenkins.looks.entry(format!("{job}{number}")).or_default();
    *looks += 1;
    if *looks == 1 || job.contains("slow") {
        return axum::Json(json!({"building": true, "result": null, "number": number, "url": url}));
    }
    axum::Json(json!({"building": false, "result": result_of(&job), "number": number, "url": url, "timestamp": 1_700_000_000_000_i64,
        "artifacts": [{"displayPath": "build.properties", "fileName": "build.properties", "relativePath": "out/build.properties"}]}))
}

async fn artifact(Path((_, _, number)): Path<(String, String, u64)>) -> String {
    format!("# written by the build\nIMAGE=shop:{number}\nCOMMIT = abc123\n")
}

async fn stop(State(jenkins): State<Shared>, Path((_, job, number)): Path<(String, String, u64)>) -> StatusCode {
    jenkins.lock().unwrap().stopped.push(format!("{job}#{number}"));
    StatusCode::OK
}

async fn jenkins_double() -> (u16, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shared: Shared = Arc::new(Mutex::new(Jenkins { port, ..Default::default() }));
    let router = Router::new()
        .route("/crumbIssuer/api/json", get(crumb))
        .route("/job/{folder}/job/{job}/buildWithParameters", post(build_with_parameters))
        .route("/queue/item/{item}/api/json", get(queue_item))
        .route("/job/{folder}/job/{job}/{number}/api/json", get(build))
        .route("/job/{folder}/job/{job}/{number}/artifact/out/build.properties", get(artifact))
        .route("/job/{folder}/job/{job}/{number}/stop", post(stop))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (port, shared)
}

async fn run(app: &TestApp, name: &str, parameters: Value) -> Value {
    let started: Value = app.post_json(&format!("/api/v1/applications/ci/pipelines/{name}/executions"), &json!({"parameters": parameters})).await.json().await.unwrap();
    finished(app, started["id"].as_str().unwrap()).await
}

fn pipeline(name: &str, job: &str, unstable_ok: bool) -> Value {
    json!({"name": name, "parameterConfig": [{"name": "version", "default": "1.0"}], "stages": [
        {"refId": "1", "name": "Build", "type": "jenkins", "master": "ci", "job": job, "propertyFile": "build.properties",
         "markUnstableAsSuccessful": unstable_ok, "parameters": {"VERSION": "${parameters.version}", "RETRIES": 2}},
        {"refId": "2", "name": "Use", "type": "evaluateVariables", "requisiteStageRefIds": ["1"],
         "variables": [{"key": "image", "value": "${IMAGE}"}, {"key": "build", "value": "${#stage('Build')['outputs']['buildInfo']['number']}"}]}]})
}

#[tokio::test]
async fn a_jenkins_stage_starts_the_job_waits_for_its_build_and_exposes_its_properties() {
    let (port, jenkins) = jenkins_double().await;
    let app = spawn_app_with(Db::Sqlite, move |config| {
        config.outbound_allow = vec!["http://127.0.0.1".to_string()];
        config.jenkins_masters = vec![format!("ci=http://127.0.0.1:{port}")];
    })
    .await;
    app.create_application("ci").await;
    for (name, job, unstable_ok) in [("build", "shop/app", false), ("strict", "shop/flaky", false), ("lenient", "shop/flaky", true), ("slow", "shop/slow", false)] {
        let saved = app.post_json("/api/v1/applications/ci/pipelines", &pipeline(name, job, unstable_ok)).await;
        assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    }

    let execution = run(&app, "build", json!({"version": "2.5"})).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let build = &execution["stages"][0]["outputs"];
    assert_eq!(build["buildInfo"]["number"], 41);
    assert_eq!(build["buildInfo"]["result"], "SUCCESS");
    assert_eq!(build["IMAGE"], "shop:41", "each property is an output");
    assert_eq!(build["COMMIT"], "abc123");
    assert_eq!(execution["stages"][1]["outputs"]["image"], "shop:41", "later stages read ${{IMAGE}}");
    assert_eq!(execution["stages"][1]["outputs"]["build"], 41);
    let started = jenkins.lock().unwrap().started[0].clone();
    assert_eq!(started.0, "shop/app");
    assert_eq!(started.1, BTreeMap::from([("RETRIES".to_string(), "2".to_string()), ("VERSION".to_string(), "2.5".to_string())]));

    // UNSTABLE fails the stage unless markUnstableAsSuccessful.
    let strict = run(&app, "strict", json!({})).await;
    assert_eq!(strict["status"], "TERMINAL");
    assert!(strict["stages"][0]["error"].as_str().unwrap().contains("ended UNSTABLE"), "{strict}");
    assert_eq!(run(&app, "lenient", json!({})).await["status"], "SUCCEEDED");

    // Canceling the run stops the build it started.
    let started: Value = app.post_json("/api/v1/applications/ci/pipelines/slow/executions", &json!({})).await.json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let execution: Value = app.get(&format!("/api/v1/executions/{id}")).await.json().await.unwrap();
        if execution["stages"][0]["context"]["buildNumber"].is_number() {
            break;
        }
        assert!(Instant::now() < deadline, "the build never started: {execution}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let canceled = app.client.put(app.url(&format!("/api/v1/executions/{id}/cancel"))).send().await.unwrap();
    assert!(canceled.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while jenkins.lock().unwrap().stopped.is_empty() {
        assert!(Instant::now() < deadline, "the build was never stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(jenkins.lock().unwrap().stopped, ["slow#44"]);
}
