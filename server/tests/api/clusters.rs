//! Cluster management end to end through the REST API, on the real local cloud: load
//! balancers and security groups in Spinnaker's shapes, deploys with every strategy under
//! constant HTTP load (zero failed requests, then only the new version answers), a failing
//! deploy rolled back, ad-hoc tasks, the server group stages, live cluster events, a killed
//! instance replaced, and account WRITE enforced.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::both_databases;
use crate::helpers::{Db, TestApp, assert_error, free_port, spawn_app};

/// The demo app's command line, as this test build can run it.
fn demo_command(extra: &[&str]) -> Value {
    let mut command = vec![env!("CARGO_BIN_EXE_gennaker").to_string(), "demo-app".into(), "--version".into(), "${parameters.version}".into()];
    command.extend(extra.iter().map(|s| s.to_string()));
    json!(command)
}

pub(crate) async fn create_balancer(app: &TestApp, application: &str, port: u16) -> Value {
    let body = json!({"cloudProvider": "local", "account": "local", "region": "local", "application": application, "stack": "web",
        "listeners": [{"port": port, "protocol": "http"}],
        "healthCheck": {"path": "/health", "intervalMs": 150, "timeoutMs": 140, "healthyThreshold": 2, "unhealthyThreshold": 2}});
    let response = app.post_json("/api/v1/loadBalancers", &body).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// A pipeline `deploy` with one deploy stage of the `<application>-web` cluster.
pub(crate) async fn save_deploy_pipeline(app: &TestApp, application: &str, cluster: Value) -> Value {
    let mut deploy = json!({"cloudProvider": "local", "account": "local", "region": "local", "application": application,
        "stack": "web", "freeFormDetails": "", "capacity": {"min": 2, "max": 2, "desired": 2},
        "artifact": {"command": demo_command(&[]), "version": "${parameters.version}"},
        "loadBalancers": [format!("{application}-web")], "securityGroups": [], "waitForHealthyTimeoutSec": 30});
    for (key, value) in cluster.as_object().unwrap() {
        deploy[key] = value.clone();
    }
    let pipeline = json!({"name": "deploy", "parameterConfig": [{"name": "version", "default": "v1"}],
        "stages": [{"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [deploy]}]});
    let response = app.post_json(&format!("/api/v1/applications/{application}/pipelines"), &pipeline).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// Runs a pipeline and waits for it to finish; returns the execution.
async fn run(app: &TestApp, application: &str, pipeline: &str, parameters: Value) -> Value {
    let response = app.post_json(&format!("/api/v1/applications/{application}/pipelines/{pipeline}/executions"), &json!({"parameters": parameters})).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let started: Value = response.json().await.unwrap();
    finished(app, &format!("/api/v1/executions/{}", started["id"].as_str().unwrap())).await
}

/// Polls an execution (or task) until it is finished.
pub(crate) async fn finished(app: &TestApp, path: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let execution: Value = app.get(path).await.json().await.unwrap();
        let status = execution["status"].as_str().unwrap_or_default().to_string();
        if !["NOT_STARTED", "RUNNING", "BUFFERED"].contains(&status.as_str()) {
            return execution;
        }
        assert!(Instant::now() < deadline, "{path} still {status}: {execution:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn clusters(app: &TestApp, application: &str) -> Vec<Value> {
    let view: Vec<Value> = app.get(&format!("/api/v1/applications/{application}/clusters")).await.json().await.unwrap();
    view.into_iter().flat_map(|region| region["clusters"].as_array().cloned().unwrap_or_default()).collect()
}

/// (name, disabled, desired) of every server group of the application, oldest first.
async fn server_groups(app: &TestApp, application: &str) -> Vec<(String, bool, u64)> {
    clusters(app, application)
        .await
        .iter()
        .flat_map(|cluster| cluster["serverGroups"].as_array().cloned().unwrap_or_default())
        .map(|group| (group["name"].as_str().unwrap().to_string(), group["disabled"].as_bool().unwrap(), group["capacity"]["desired"].as_u64().unwrap()))
        .collect()
}

/// Constant HTTP load through a balancer from the test itself: a bounded loop of GETs on
/// loopback, counting failures and the versions that answered.
struct Load {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(u64, Vec<String>, BTreeMap<String, u64>)>,
}

impl Load {
    fn start(port: u16) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
            let (mut total, mut failures, mut versions) = (0u64, Vec::new(), BTreeMap::new());
            // Bounded: at most 20,000 requests, whatever happens.
            while !flag.load(Ordering::Relaxed) && total < 20_000 {
                total += 1;
                match client.get(format!("http://127.0.0.1:{port}/")).send().await {
                    Ok(response) if response.status() == 200 => {
                        let body: Value = response.json().await.unwrap_or_default();
                        *versions.entry(body["version"].as_str().unwrap_or("?").to_string()).or_insert(0) += 1;
                    }
                    Ok(response) => failures.push(format!("status {}: {}", response.status(), response.text().await.unwrap_or_default())),
                    Err(error) => failures.push(error.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (total, failures, versions)
        });
        Self { stop, task }
    }

    async fn finish(self) -> (u64, Vec<String>, BTreeMap<String, u64>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

async fn answering_versions(port: u16, n: usize) -> BTreeMap<String, u64> {
    let load = Load::start(port);
    let client = reqwest::Client::new();
    let mut versions = BTreeMap::new();
    for _ in 0..n {
        let body: Value = client.get(format!("http://127.0.0.1:{port}/")).send().await.unwrap().json().await.unwrap();
        *versions.entry(body["version"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    load.finish().await;
    versions
}

/// Deploys v1, then v2 under load with `strategy`; checks no request failed and only v2 is left
/// answering. Returns the server groups afterwards.
async fn move_to_v2(strategy: &str, cluster: Value) -> Vec<(String, bool, u64)> {
    move_to_v2_with(strategy, cluster, &[]).await.1
}

async fn move_to_v2_with(strategy: &str, cluster: Value, other_pipelines: &[Value]) -> (TestApp, Vec<(String, bool, u64)>) {
    let app = spawn_app(Db::Sqlite).await;
    let application = format!("mv{}", strategy.replace("redblack", "rb"));
    app.create_application(&application).await;
    for pipeline in other_pipelines {
        let saved = app.post_json(&format!("/api/v1/applications/{application}/pipelines"), pipeline).await;
        assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    }
    let port = free_port();
    let balancer = create_balancer(&app, &application, port).await;
    assert_eq!(balancer["name"], format!("{application}-web"));
    let mut config = json!({"strategy": strategy});
    for (key, value) in cluster.as_object().unwrap() {
        config[key] = value.clone();
    }
    save_deploy_pipeline(&app, &application, config).await;

    let first = run(&app, &application, "deploy", json!({"version": "v1"})).await;
    assert_eq!(first["status"], "SUCCEEDED", "{first:#}");
    let load = Load::start(port);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = run(&app, &application, "deploy", json!({"version": "v2"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (total, failures, versions) = load.finish().await;
    assert_eq!(second["status"], "SUCCEEDED", "{second:#}");
    assert!(failures.is_empty(), "{strategy}: {} of {total} requests failed: {:?}", failures.len(), &failures[..failures.len().min(5)]);
    assert!(total > 100, "the load loop ran only {total} requests");
    assert!(versions.contains_key("v1") && versions.contains_key("v2"), "{strategy}: traffic moved from v1 to v2: {versions:?}");
    let after = answering_versions(port, 40).await;
    assert_eq!(after.keys().collect::<Vec<_>>(), ["v2"], "{strategy}: only v2 answers afterwards: {after:?}");
    let outputs = &second["stages"][0]["outputs"];
    assert_eq!(outputs["serverGroupName"], format!("{application}-web-v001"), "{outputs}");
    let groups = server_groups(&app, &application).await;
    (app, groups)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redblack_moves_traffic_with_no_failed_request() {
    let groups = move_to_v2("redblack", json!({"maxRemainingAsgs": 2})).await;
    assert_eq!(groups, [("mvrb-web-v000".to_string(), true, 2), ("mvrb-web-v001".to_string(), false, 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn highlander_moves_traffic_with_no_failed_request() {
    let groups = move_to_v2("highlander", json!({})).await;
    assert_eq!(groups, [("mvhighlander-web-v001".to_string(), false, 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_redblack_moves_traffic_with_no_failed_request() {
    let check = json!({"name": "check", "limitConcurrent": false, "stages": [{"refId": "1", "type": "evaluateVariables", "variables": [{"key": "ok", "value": true}]}]});
    let cluster = json!({"targetPercentages": [50, 100], "scaleDown": true,
        "pipelineBeforeCleanup": {"application": "mvrollingrb", "pipelineId": "check"}});
    let (app, groups) = move_to_v2_with("rollingredblack", cluster, &[check]).await;
    assert_eq!(groups, [("mvrollingrb-web-v000".to_string(), true, 0), ("mvrollingrb-web-v001".to_string(), false, 2)]);
    // The check ran after each of the two steps of both deploys.
    let checks: Vec<Value> = app.get("/api/v1/executions?application=mvrollingrb&pipeline=check&limit=50").await.json().await.unwrap();
    assert_eq!(checks.len(), 4, "{checks:#?}");
    assert!(checks.iter().all(|run| run["status"] == "SUCCEEDED" && run["trigger"]["parentExecution"]["id"].is_string()));
}

/// An unhealthy v2: the deploy fails, v1 keeps serving every request, and `rollback.onFailure`
/// destroys the bad server group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_deploy_fails_and_is_rolled_back_while_v1_serves() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("sick").await;
    let port = free_port();
    create_balancer(&app, "sick", port).await;
    save_deploy_pipeline(&app, "sick", json!({"strategy": "redblack", "rollback": {"onFailure": true}, "waitForHealthyTimeoutSec": 3})).await;
    assert_eq!(run(&app, "sick", "deploy", json!({"version": "v1"})).await["status"], "SUCCEEDED");

    // The same pipeline, now deploying an app that reports unhealthy.
    let mut pipeline: Value = app.get("/api/v1/applications/sick/pipelines/deploy").await.json().await.unwrap();
    pipeline["stages"][0]["clusters"][0]["artifact"]["command"] = demo_command(&["--unhealthy"]);
    let saved = app.post_json("/api/v1/applications/sick/pipelines", &pipeline).await;
    assert_eq!(saved.status(), 200);

    let load = Load::start(port);
    let failed = run(&app, "sick", "deploy", json!({"version": "v2"})).await;
    let (total, failures, versions) = load.finish().await;
    assert_eq!(failed["status"], "TERMINAL", "{failed:#}");
    let error = failed["stages"][0]["error"].as_str().unwrap();
    assert!(error.contains("did not become healthy") && error.contains("destroyed sick-web-v001"), "{error}");
    assert!(failures.is_empty(), "{} of {total} requests failed: {failures:?}", failures.len());
    assert_eq!(versions.keys().collect::<Vec<_>>(), ["v1"], "{versions:?}");
    assert_eq!(server_groups(&app, "sick").await, [("sick-web-v000".to_string(), false, 2)]);
}

/// A deploy stopped by its stage timeout while the new server group is still unhealthy rolls
/// back as a failed one does: the new group is destroyed and v1 goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_deploy_is_rolled_back() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("slow").await;
    let port = free_port();
    create_balancer(&app, "slow", port).await;
    save_deploy_pipeline(&app, "slow", json!({"strategy": "redblack", "rollback": {"onFailure": true}, "waitForHealthyTimeoutSec": 600})).await;
    assert_eq!(run(&app, "slow", "deploy", json!({"version": "v1"})).await["status"], "SUCCEEDED");

    let mut pipeline: Value = app.get("/api/v1/applications/slow/pipelines/deploy").await.json().await.unwrap();
    pipeline["stages"][0]["clusters"][0]["artifact"]["command"] = demo_command(&["--unhealthy"]);
    pipeline["stages"][0]["stageTimeoutMs"] = json!(3000);
    let saved = app.post_json("/api/v1/applications/slow/pipelines", &pipeline).await;
    assert_eq!(saved.status(), 200);

    let failed = run(&app, "slow", "deploy", json!({"version": "v2"})).await;
    assert_eq!(failed["status"], "TERMINAL", "{failed:#}");
    let error = failed["stages"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("timed out after 3000 ms") && error.contains("destroyed slow-web-v001"), "{error}");
    assert_eq!(server_groups(&app, "slow").await, [("slow-web-v000".to_string(), false, 2)]);
}

/// A manual canary: one canary instance beside the current server group, a check, then the
/// promotion (resize the canary to full size, disable the rest) as the README describes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_is_deployed_beside_the_current_group_then_promoted() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("bird").await;
    let port = free_port();
    create_balancer(&app, "bird", port).await;
    save_deploy_pipeline(&app, "bird", json!({"strategy": "redblack"})).await;
    assert_eq!(run(&app, "bird", "deploy", json!({"version": "v1"})).await["status"], "SUCCEEDED");

    let target = json!({"cluster": "bird-web", "target": "current_asg_dynamic"});
    let with = |body: Value| {
        let mut stage = target.clone();
        stage.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        stage
    };
    let canary = json!({"refId": "1", "type": "deploy", "name": "Canary", "clusters": [{"application": "bird", "stack": "web",
        "capacity": {"min": 2, "max": 2, "desired": 2}, "canaryCapacity": 1, "strategy": "canary", "loadBalancers": ["bird-web"],
        "artifact": {"command": demo_command(&[]), "version": "${parameters.version}"}}]});
    let pipeline = json!({"name": "canary", "parameterConfig": [{"name": "version", "default": "v2"}], "stages": [
        canary,
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "checkPreconditions", "name": "Canary healthy",
         "preconditions": [{"type": "expression", "context": {"expression": "${stage('Canary').outputs.serverGroupName == 'bird-web-v001'}"}}]},
        with(json!({"refId": "3", "requisiteStageRefIds": ["2"], "type": "resizeServerGroup", "name": "Promote",
            "action": "scale_exact", "capacity": {"min": 2, "max": 2, "desired": 2}})),
        {"refId": "4", "requisiteStageRefIds": ["3"], "type": "disableCluster", "name": "Retire", "cluster": "bird-web", "remainingEnabledServerGroups": 1},
    ]});
    let saved = app.post_json("/api/v1/applications/bird/pipelines", &pipeline).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let load = Load::start(port);
    let execution = run(&app, "bird", "canary", json!({})).await;
    let (total, failures, versions) = load.finish().await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution:#}");
    assert!(failures.is_empty(), "{} of {total} failed: {failures:?}", failures.len());
    assert!(versions.contains_key("v1") && versions.contains_key("v2"), "{versions:?}");
    assert_eq!(server_groups(&app, "bird").await, [("bird-web-v000".to_string(), true, 2), ("bird-web-v001".to_string(), false, 2)]);
}

pub(crate) async fn submit_task(app: &TestApp, application: &str, job: Value) -> Value {
    let response = app.post_json("/api/v1/tasks", &json!({"application": application, "description": "test task", "job": [job]})).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let task: Value = response.json().await.unwrap();
    finished(app, &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap())).await
}

/// A cluster of plain demo apps without a balancer, through ad-hoc tasks and the server
/// group stages.
async fn tasks_and_server_group_stages(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("ops").await;
    let cluster = json!({"loadBalancers": [], "capacity": {"min": 1, "max": 1, "desired": 1}, "strategy": "none"});
    save_deploy_pipeline(&app, "ops", cluster).await;
    for version in ["v1", "v2", "v3"] {
        let run = run(&app, "ops", "deploy", json!({"version": version})).await;
        assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    }
    let all_enabled = [("ops-web-v000".to_string(), false, 1), ("ops-web-v001".to_string(), false, 1), ("ops-web-v002".to_string(), false, 1)];
    assert_eq!(server_groups(&app, "ops").await, all_enabled);

    // Resize by task, then the instance detail shows two running instances with pids.
    let target = json!({"cloudProvider": "local", "account": "local", "region": "local"});
    let mut resize = target.clone();
    resize.as_object_mut().unwrap().extend(json!({"type": "resizeServerGroup", "cluster": "ops-web", "target": "current_asg_dynamic",
        "action": "scale_up", "scaleNum": 1}).as_object().unwrap().clone());
    let task = submit_task(&app, "ops", resize).await;
    assert_eq!(task["status"], "SUCCEEDED", "{task:#}");
    assert_eq!(task["stages"][0]["outputs"]["capacity"], json!({"min": 1, "max": 2, "desired": 2}));
    let detail: Value = app.get("/api/v1/applications/ops/serverGroups/local/local/ops-web-v002").await.json().await.unwrap();
    assert_eq!(detail["instances"].as_array().unwrap().len(), 2, "{detail:#}");
    assert!(detail["instances"][0]["pid"].as_u64().is_some());
    let tasks: Vec<Value> = app.get("/api/v1/applications/ops/tasks").await.json().await.unwrap();
    assert_eq!(tasks.len(), 1);
    let pipeline_runs: Vec<Value> = app.get("/api/v1/executions?application=ops&limit=50").await.json().await.unwrap();
    assert_eq!(pipeline_runs.len(), 3, "tasks are not listed as pipeline runs");

    // A bad job: named stage and field.
    let bad = app.post_json("/api/v1/tasks", &json!({"application": "ops", "job": [{"type": "resizeServerGroup", "serverGroupName": "ops-web-v000"}]})).await;
    assert_error(bad, 400, "invalid", Some("job[0].capacity")).await;
    let missing = submit_task(&app, "ops", json!({"type": "disableServerGroup", "serverGroupName": "ops-web-v099"})).await;
    assert_eq!(missing["status"], "TERMINAL");
    assert!(missing["stages"][0]["error"].as_str().unwrap().contains("ops-web-v099 does not exist"), "{missing:#}");

    // The other stages, in one pipeline.
    let stage = |ref_id: &str, requisites: &[&str], body: Value| {
        let mut stage = json!({"refId": ref_id, "requisiteStageRefIds": requisites, "name": format!("s{ref_id}")});
        stage.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        stage
    };
    let pipeline = json!({"name": "operations", "stages": [
        stage("1", &[], json!({"type": "disableCluster", "cluster": "ops-web", "remainingEnabledServerGroups": 1})),
        stage("2", &["1"], json!({"type": "findImage", "cluster": "ops-web", "selectionStrategy": "NEWEST"})),
        stage("3", &["2"], json!({"type": "rollbackServerGroup", "cluster": "ops-web"})),
        stage("4", &["3"], json!({"type": "cloneServerGroup", "cluster": "ops-web", "target": "ancestor_asg_dynamic", "disableSource": true})),
        stage("5", &["4"], json!({"type": "scaleDownCluster", "cluster": "ops-web", "remainingFullSizeServerGroups": 1})),
        stage("6", &["5"], json!({"type": "shrinkCluster", "cluster": "ops-web", "shrinkToSize": 2})),
        stage("7", &["6"], json!({"type": "enableServerGroup", "cluster": "ops-web", "target": "oldest_asg_dynamic"})),
        stage("8", &["7"], json!({"type": "destroyServerGroup", "cluster": "ops-web", "target": "oldest_asg_dynamic"})),
        stage("9", &["8"], json!({"type": "runJob", "command": ["sh", "-c", "echo preparing; echo SPINNAKER_PROPERTIES; echo build=42"]})),
        stage("10", &["9"], json!({"type": "runJob", "command": ["sh", "-c", "echo broken >&2; exit 3"], "continuePipeline": true})),
    ]});
    assert_eq!(app.post_json("/api/v1/applications/ops/pipelines", &pipeline).await.status(), 200);
    let execution = run(&app, "ops", "operations", json!({})).await;
    let stages = execution["stages"].as_array().unwrap();
    let output = |index: usize, key: &str| stages[index]["outputs"][key].clone();
    assert_eq!(output(0, "serverGroups"), json!(["ops-web-v001", "ops-web-v000"]), "disable cluster keeps the newest enabled");
    assert_eq!(output(1, "serverGroupName"), "ops-web-v002");
    assert_eq!(output(1, "imageVersion"), "v3");
    assert_eq!(output(2, "restoreServerGroupName"), "ops-web-v001", "rollback restores the one before the newest");
    assert_eq!(output(3, "serverGroupName"), "ops-web-v003", "clone of the ancestor (v001, enabled by the rollback)");
    assert_eq!(output(3, "sourceServerGroupName"), "ops-web-v001");
    assert_eq!(output(5, "serverGroups"), json!(["ops-web-v001", "ops-web-v000"]), "shrink destroys the disabled beyond 2");
    assert_eq!(output(8, "build"), "42");
    assert_eq!(output(8, "exitCode"), 0);
    assert_eq!(stages[9]["status"], "FAILED_CONTINUE");
    assert!(stages[9]["error"].as_str().unwrap().contains("exited with code 3: broken"), "{}", stages[9]);
    assert_eq!(execution["status"], "SUCCEEDED", "{execution:#}");
    // v002 was disabled by the rollback, scaled down, then enabled as the oldest left by the
    // shrink and destroyed: only the clone remains, at its source's size.
    let left = server_groups(&app, "ops").await;
    assert_eq!(left, [("ops-web-v003".to_string(), false, 2)], "{left:?}");
}

/// Live cluster events: a killed instance is replaced and subscribers see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_is_replaced_and_subscribers_see_it_live() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("live").await;
    save_deploy_pipeline(&app, "live", json!({"loadBalancers": [], "capacity": {"min": 1, "max": 1, "desired": 1}})).await;
    assert_eq!(run(&app, "live", "deploy", json!({"version": "v1"})).await["status"], "SUCCEEDED");
    let detail: Value = app.get("/api/v1/applications/live/serverGroups/local/local/live-web-v000").await.json().await.unwrap();
    let pid = detail["instances"][0]["pid"].as_u64().unwrap();
    let name = detail["instances"][0]["name"].as_str().unwrap().to_string();

    let url = app.url("/api/v1/ws/clusters").replace("http://", "ws://");
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", app.admin_token).parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::Text(json!({"application": "live"}).to_string().into())).await.unwrap();
    let first = next_event(&mut socket).await;
    assert_eq!(first["regions"][0]["clusters"][0]["serverGroups"][0]["instanceCounts"]["total"], 1, "{first}");

    assert!(std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no event showed the replacement");
        let _event = next_event(&mut socket).await;
        let detail: Value = app.get("/api/v1/applications/live/serverGroups/local/local/live-web-v000").await.json().await.unwrap();
        let instances = detail["instances"].as_array().unwrap();
        if instances.len() == 1 && instances[0]["name"] != name.as_str() {
            break;
        }
    }

    // A subscription the caller may not read is refused with the error shape.
    let url = app.url("/api/v1/ws/clusters").replace("http://", "ws://");
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", app.admin_token).parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::Text(json!({"application": "nosuchapp"}).to_string().into())).await.unwrap();
    let refusal = next_event(&mut socket).await;
    assert_eq!(refusal["error"]["code"], "not_found", "{refusal}");
}

/// A deploy job of `stack` on the local cloud: the demo app at `desired` instances, no strategy
/// (the previous server group stays as it is).
fn deploy_job(application: &str, stack: &str, desired: u32) -> Value {
    json!({"type": "deploy", "name": "Create server group", "clusters": [{"application": application, "stack": stack,
        "cloudProvider": "local", "account": "local", "region": "local", "strategy": "", "loadBalancers": [],
        "capacity": {"min": desired, "max": desired, "desired": desired},
        "artifact": {"type": "command", "command": [env!("CARGO_BIN_EXE_gennaker"), "demo-app", "--version", "v1"], "version": "v1"}}]})
}

/// Big applications: the summary form of the clusters list (`expand=false`: each cluster
/// summed up, no server groups), one cluster (`cluster=`), a bad `expand` refused naming the
/// field, and the live socket in the summary form (a snapshot, then only what changed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_form_one_cluster_and_changes_as_deltas() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("sums").await;
    for (stack, desired) in [("web", 1), ("web", 1), ("api", 0)] {
        let task = submit_task(&app, "sums", deploy_job("sums", stack, desired)).await;
        assert_eq!(task["status"], "SUCCEEDED", "{task:#}");
    }

    let summary: Vec<Value> = app.get("/api/v1/applications/sums/clusters?expand=false").await.json().await.unwrap();
    let names: Vec<&str> = summary.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sums-api", "sums-web"], "{summary:#?}");
    let web = &summary[1];
    assert_eq!((web["account"].as_str(), web["region"].as_str(), web["cloudProvider"].as_str()), (Some("local"), Some("local"), Some("local")));
    assert_eq!(web["serverGroupCount"], 2);
    assert_eq!(web["enabledServerGroupCount"], 2);
    assert_eq!(web["instanceCounts"]["total"], 2);
    assert_eq!(web["newest"], json!({"name": "sums-web-v001", "version": "v1", "enabled": true}));
    assert!(web.get("serverGroups").is_none() && web.get("instances").is_none(), "no server groups in the summary: {web}");
    assert_eq!(summary[0]["serverGroupCount"], 1);
    assert_eq!(summary[0]["instanceCounts"]["total"], 0);

    // One cluster, in full (the default form), or summed up; none of that name: empty.
    let one: Vec<Value> = app.get("/api/v1/applications/sums/clusters?cluster=sums-web").await.json().await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["account"], "local");
    let clusters = one[0]["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0]["serverGroups"].as_array().unwrap().len(), 2);
    let one: Vec<Value> = app.get("/api/v1/applications/sums/clusters?cluster=sums-api&expand=false").await.json().await.unwrap();
    assert_eq!((one.len(), one[0]["name"].as_str()), (1, Some("sums-api")));
    let none: Vec<Value> = app.get("/api/v1/applications/sums/clusters?cluster=sums-nope").await.json().await.unwrap();
    assert!(none.is_empty());
    // The default is unchanged: by account and region, every server group.
    let all: Vec<Value> = app.get("/api/v1/applications/sums/clusters?expand=true").await.json().await.unwrap();
    assert_eq!(all, app.get("/api/v1/applications/sums/clusters").await.json::<Vec<Value>>().await.unwrap());
    assert_eq!(all[0]["clusters"].as_array().unwrap().len(), 2);

    let refused = assert_error(app.get("/api/v1/applications/sums/clusters?expand=maybe").await, 400, "invalid", Some("expand")).await;
    assert!(refused["error"]["message"].as_str().unwrap().contains("expand"), "{refused}");
    assert_error(app.get("/api/v1/applications/nosuchapp/clusters?expand=false").await, 404, "not_found", None).await;

    // Live, summed up: every cluster first, then only the one that changed.
    let url = app.url("/api/v1/ws/clusters").replace("http://", "ws://");
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", app.admin_token).parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::Text(json!({"application": "sums", "expand": false}).to_string().into())).await.unwrap();
    let first = next_event(&mut socket).await;
    assert_eq!(first["snapshot"], true, "{first}");
    assert_eq!(first["clusters"].as_array().unwrap().len(), 2, "{first}");
    assert!(first.get("regions").is_none());

    let resize = json!({"type": "resizeServerGroup", "cloudProvider": "local", "account": "local", "region": "local",
        "serverGroupName": "sums-api-v000", "capacity": {"min": 1, "max": 1, "desired": 1}});
    assert_eq!(submit_task(&app, "sums", resize).await["status"], "SUCCEEDED");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no change showed the new instance");
        let change = next_event(&mut socket).await;
        assert_eq!(change["snapshot"], false, "{change}");
        let changed = change["clusters"].as_array().unwrap();
        assert!(changed.iter().all(|c| c["name"] == "sums-api"), "only the cluster that changed: {change}");
        assert!(changed.iter().all(|c| c.get("serverGroups").is_none()), "{change}");
        if changed.iter().any(|c| c["instanceCounts"]["total"] == 1) {
            break;
        }
    }

    // Its last server group destroyed: the cluster is said to be removed, by its key.
    let destroy = json!({"type": "destroyServerGroup", "cloudProvider": "local", "account": "local", "region": "local",
        "serverGroupName": "sums-api-v000"});
    assert_eq!(submit_task(&app, "sums", destroy).await["status"], "SUCCEEDED");
    loop {
        assert!(Instant::now() < deadline + Duration::from_secs(20), "no change said sums-api was removed");
        let change = next_event(&mut socket).await;
        if let Some(removed) = change.get("removed") {
            assert_eq!(removed, &json!([{"cloudProvider": "local", "account": "local", "region": "local", "name": "sums-api"}]), "{change}");
            assert!(change["clusters"].as_array().unwrap().is_empty(), "{change}");
            break;
        }
    }
}

async fn next_event<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("an event within 10 s").unwrap().unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Load balancers and security groups: Spinnaker's shapes, validation, in-use protection,
/// account WRITE.
async fn load_balancers_and_security_groups(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("shop").await;
    let port = free_port();
    let bad_rule = json!({"application": "shop", "stack": "lan", "ingress": [{"cidr": "10.0.0.0/33", "protocol": "tcp", "startPort": 1, "endPort": 2}]});
    assert_error(app.post_json("/api/v1/securityGroups", &bad_rule).await, 400, "invalid", Some("ingress[0].cidr")).await;
    let rule = json!({"application": "shop", "stack": "lan", "description": "loopback only",
        "ingress": [{"cidr": "127.0.0.0/8", "protocol": "tcp", "startPort": 1, "endPort": 65535}]});
    let saved = app.post_json("/api/v1/securityGroups", &rule).await;
    assert_eq!(saved.status(), 200);
    assert_eq!(saved.json::<Value>().await.unwrap()["name"], "shop-lan");

    let unknown_group = json!({"application": "shop", "stack": "web", "listeners": [{"port": port, "protocol": "http"}], "securityGroups": ["nope"]});
    assert_error(app.post_json("/api/v1/loadBalancers", &unknown_group).await, 400, "invalid", Some("securityGroups")).await;
    let balancer = json!({"cloudProvider": "local", "account": "local", "region": "local", "application": "shop", "stack": "web",
        "listeners": [{"port": port, "protocol": "http"}], "securityGroups": ["shop-lan"],
        "healthCheck": {"path": "/health", "intervalMs": 500, "timeoutMs": 400, "healthyThreshold": 2, "unhealthyThreshold": 2}});
    assert_eq!(app.post_json("/api/v1/loadBalancers", &balancer).await.status(), 200);
    let taken = json!({"application": "shop", "stack": "other", "listeners": [{"port": port, "protocol": "http"}]});
    let refused = assert_error(app.post_json("/api/v1/loadBalancers", &taken).await, 400, "invalid", None).await;
    assert!(refused["error"]["message"].as_str().unwrap().contains("cannot listen"), "{refused}");

    let listed: Vec<Value> = app.get("/api/v1/applications/shop/loadBalancers").await.json().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["healthCheck"]["path"], "/health");
    let groups: Vec<Value> = app.get("/api/v1/applications/shop/securityGroups").await.json().await.unwrap();
    assert_eq!(groups[0]["ingress"][0]["cidr"], "127.0.0.0/8");

    // In use: refused; then deleted in order.
    assert_error(app.delete("/api/v1/securityGroups/local/local/shop-lan").await, 409, "conflict", Some("name")).await;
    assert_eq!(app.delete(&format!("/api/v1/loadBalancers/local/local/shop-web")).await.status(), 204);
    assert_eq!(app.delete("/api/v1/securityGroups/local/local/shop-lan").await.status(), 204);
    assert_error(app.delete("/api/v1/securityGroups/local/local/shop-lan").await, 404, "not_found", None).await;
    assert!(reqwest::get(format!("http://127.0.0.1:{port}/")).await.is_err(), "the deleted balancer no longer listens");

    // Account WRITE: only deployers may change `local` once it has permissions.
    let response = app.client.put(app.url("/api/v1/accounts/local/permissions")).json(&json!({"READ": ["dev"], "WRITE": ["deployers"]})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let permissions = json!({"READ": ["dev"], "WRITE": ["dev"], "EXECUTE": ["dev"]});
    assert_eq!(app.client.put(app.url("/api/v1/applications/shop/permissions")).json(&permissions).send().await.unwrap().status(), 200);
    let dev = app.user_client("dana", &["dev"]).await;
    let refused = dev.post(app.url("/api/v1/loadBalancers")).json(&balancer).send().await.unwrap();
    assert_error(refused, 403, "forbidden", None).await;
    save_deploy_pipeline(&app, "shop", json!({"loadBalancers": []})).await;
    let refused = dev.post(app.url("/api/v1/applications/shop/pipelines/deploy/executions")).json(&json!({})).send().await.unwrap();
    let body = assert_error(refused, 403, "forbidden", None).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("account local"), "{body}");
    let task = json!({"application": "shop", "job": [{"type": "disableServerGroup", "serverGroupName": "shop-web-v000"}]});
    assert_error(dev.post(app.url("/api/v1/tasks")).json(&task).send().await.unwrap(), 403, "forbidden", None).await;
    // Clusters of an account the caller may not read are left out.
    let reader = app.user_client("rory", &["readers"]).await;
    let view = reader.get(app.url("/api/v1/applications/shop/clusters")).send().await.unwrap();
    assert_eq!(view.status(), 403, "shop is restricted to dev");
}

both_databases!(tasks_and_server_group_stages, load_balancers_and_security_groups);
