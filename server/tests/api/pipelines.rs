//! Pipelines and executions over REST (ours and Gate's shapes), and the live event socket.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::both_databases;
use crate::helpers::{Db, TestApp, assert_error, spawn_app};

both_databases!(
    pipelines_are_validated_versioned_and_restorable,
    runs_start_finish_and_answer_in_both_shapes,
    events_resume_after_a_reconnect_exactly_once_in_order,
);

fn judged_pipeline() -> Value {
    json!({"name": "release", "parameterConfig": [{"name": "env", "required": true, "options": [{"value": "dev"}, {"value": "prod"}]}],
        "stages": [
            {"refId": "1", "name": "Prepare", "type": "evaluateVariables", "variables": [{"key": "target", "value": "${parameters.env}"}]},
            {"refId": "2", "name": "Approve", "type": "manualJudgment", "instructions": "Go?", "requisiteStageRefIds": ["1"]},
            {"refId": "3", "name": "Done", "type": "wait", "waitTime": 0, "requisiteStageRefIds": ["2"]}
        ]})
}

async fn wait_for(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let execution: Value = app.get(&format!("/api/v1/executions/{id}")).await.json().await.unwrap();
        if done(&execution) {
            return execution;
        }
        assert!(Instant::now() < deadline, "timed out waiting: {execution}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn stage_status(execution: &Value, ref_id: &str) -> String {
    execution["stages"].as_array().unwrap().iter().find(|s| s["refId"] == ref_id).unwrap()["status"].as_str().unwrap().to_string()
}

async fn pipelines_are_validated_versioned_and_restorable(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("shop").await;
    let base = "/api/v1/applications/shop/pipelines";

    // The editor's stage types come from the server's registry: each one's defaults save.
    let types: Vec<Value> = app.get("/api/v1/applications/shop/stageTypes").await.json().await.unwrap();
    assert!(types.len() >= 18, "every registered stage type: {}", types.len());
    assert_eq!((types[0]["type"].as_str(), types[0]["label"].as_str()), (Some("deploy"), Some("Deploy")));
    assert_eq!(types[0]["lists"][0]["key"], "clusters");
    let stages: Vec<Value> = types
        .iter()
        // The pipeline stage's name and a Kubernetes stage's account are for the user to choose.
        .filter(|info| info["type"] != "pipeline" && info["defaults"]["cloudProvider"] != "kubernetes")
        .enumerate()
        .map(|(index, info)| {
            let mut stage = info["defaults"].clone();
            stage["refId"] = json!((index + 1).to_string());
            stage["type"] = info["type"].clone();
            stage
        })
        .collect();
    let every_type = app.post_json(&format!("{base}?dryRun=true"), &json!({"name": "all", "stages": stages})).await;
    assert_eq!(every_type.status(), 200, "{}", every_type.text().await.unwrap());

    // A stage type gennaker does not run is kept (Spinnaker's pipelines are full of them), with
    // a warning; starting the pipeline is refused, naming the stage and its type.
    let unknown = json!({"name": "teleporter", "stages": [{"refId": "a", "name": "Beam", "type": "teleport", "destination": "mars"}]});
    let saved = app.post_json(base, &unknown).await;
    assert_eq!(saved.status(), 200);
    let saved: Value = saved.json().await.unwrap();
    assert!(saved["warnings"][0].as_str().unwrap().contains("\"teleport\""), "{saved}");
    assert_eq!(saved["stages"][0]["destination"], "mars", "kept as written");
    let listed: Vec<Value> = app.get(base).await.json().await.unwrap();
    assert!(listed[0]["warnings"].as_array().is_some_and(|w| w.len() == 1), "the list warns too: {listed:?}");
    let start = app.post_json(&format!("{base}/teleporter/executions"), &json!({})).await;
    let body = assert_error(start, 400, "invalid", Some("stages")).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("\"Beam\"") && message.contains("\"teleport\""), "{message}");
    let runs: Vec<Value> = app.get("/api/v1/executions?application=shop").await.json().await.unwrap();
    assert!(runs.is_empty(), "nothing started");
    assert_eq!(app.delete(&format!("{base}/teleporter")).await.status(), 204);
    // A wait without waitTime waits for nothing, as in Spinnaker.
    let missing = app.post_json(&format!("{base}?dryRun=true"), &json!({"name": "p", "stages": [{"refId": "w", "type": "wait"}]})).await;
    assert_eq!(missing.status(), 200);
    let cycle = app.post_json(base, &json!({"name": "p", "stages": [
        {"refId": "1", "type": "wait", "waitTime": 1, "requisiteStageRefIds": ["2"]},
        {"refId": "2", "type": "wait", "waitTime": 1, "requisiteStageRefIds": ["1"]}]})).await;
    assert_error(cycle, 400, "invalid", Some("stages[0].requisiteStageRefIds")).await;
    let expression = app.post_json(base, &json!({"name": "p", "stages": [{"refId": "1", "type": "wait", "waitTime": "${1 +}"}]})).await;
    assert_error(expression, 400, "invalid", Some("stages[0].waitTime")).await;
    let other_app = app.post_json(base, &json!({"application": "other", "name": "p", "stages": []})).await;
    assert_error(other_app, 400, "invalid", Some("application")).await;

    // A dry run checks as a save does and stores nothing.
    let bad_deploy = json!({"name": "p", "stages": [{"refId": "1", "type": "wait", "waitTime": 1}, {"refId": "2", "type": "deploy", "clusters": [
        {"application": "shop", "capacity": {"min": 3, "max": 1, "desired": 1}}]}]});
    let checked = app.post_json(&format!("{base}?dryRun=true"), &bad_deploy).await;
    assert_error(checked, 400, "invalid", Some("stages[1].clusters[0].capacity")).await;
    let checked = app.post_json(&format!("{base}?dryRun=true"), &json!({"name": "dry", "stages": []})).await;
    assert_eq!(checked.status(), 200);
    assert_eq!(checked.json::<Value>().await.unwrap()["name"], "dry");
    let stored: Vec<Value> = app.get(base).await.json().await.unwrap();
    assert!(stored.is_empty(), "a dry run stores nothing: {stored:?}");

    let saved: Value = app.post_json(base, &judged_pipeline()).await.json().await.unwrap();
    assert_eq!(saved["revision"], 1);
    assert_eq!(saved["lastModifiedBy"], "admin");
    let id = saved["id"].as_str().unwrap().to_string();
    let duplicate = app.post_json(base, &judged_pipeline()).await;
    assert_error(duplicate, 409, "conflict", Some("name")).await;

    let mut edited = saved.clone();
    edited["stages"][0]["name"] = json!("Prepare things");
    edited["stages"][0]["comments"] = json!("unknown fields are kept");
    let second: Value = app.client.put(app.url(&format!("{base}/{id}"))).json(&edited).send().await.unwrap().json().await.unwrap();
    assert_eq!(second["revision"], 2);
    assert_eq!(second["stages"][0]["comments"], "unknown fields are kept");
    let stale = app.client.put(app.url(&format!("{base}/{id}"))).json(&edited).send().await.unwrap();
    assert_error(stale, 409, "conflict", Some("revision")).await;

    let history: Vec<Value> = app.get(&format!("{base}/release/history")).await.json().await.unwrap();
    assert_eq!(history.iter().map(|r| r["revision"].as_i64().unwrap()).collect::<Vec<_>>(), [2, 1]);
    let restored: Value = app.post_json(&format!("{base}/release/history/1/restore"), &json!({})).await.json().await.unwrap();
    assert_eq!(restored["revision"], 3);
    assert_eq!(restored["stages"][0]["name"], "Prepare");
    let listed: Vec<Value> = app.get(base).await.json().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(app.delete(&format!("{base}/release")).await.status(), 204);
    assert_error(app.get(&format!("{base}/release")).await, 404, "not_found", None).await;
}

async fn runs_start_finish_and_answer_in_both_shapes(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("shop").await;
    app.post_json("/api/v1/applications/shop/pipelines", &judged_pipeline()).await;
    let start = "/api/v1/applications/shop/pipelines/release/executions";

    let missing = app.post_json(start, &json!({})).await;
    assert_error(missing, 400, "invalid", Some("parameters.env")).await;
    let wrong_type = app.post_json(start, &json!({"parameters": {"env": 5}})).await;
    let body = assert_error(wrong_type, 400, "invalid", None).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("invalid type"), "{body}");
    let outside = app.post_json(start, &json!({"parameters": {"env": "qa"}})).await;
    assert_error(outside, 400, "invalid", Some("parameters.env")).await;

    let started = app.post_json(start, &json!({"parameters": {"env": "prod"}})).await;
    assert_eq!(started.status(), 201);
    let id = started.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let waiting = wait_for(&app, &id, |e| stage_status(e, "2") == "RUNNING").await;
    assert_eq!(waiting["stages"][0]["outputs"]["target"], "prod");
    assert_eq!(waiting["trigger"]["user"], "admin");

    // Gate's judgment shape.
    let judged = app.client.patch(app.url(&format!("/pipelines/{id}/stages/2"))).json(&json!({"judgmentStatus": "continue"})).send().await.unwrap();
    assert_eq!(judged.status(), 200);
    let done = wait_for(&app, &id, |e| e["status"] == "SUCCEEDED").await;
    assert_eq!(done["stages"][1]["context"]["lastModifiedBy"], "admin");

    // Gate's start and read shapes.
    let gate = app.post_json("/pipelines/shop/release", &json!({"type": "manual", "parameters": {"env": "dev"}})).await;
    assert_eq!(gate.status(), 202);
    let reference = gate.json::<Value>().await.unwrap()["ref"].as_str().unwrap().to_string();
    let gate_id = reference.trim_start_matches("/pipelines/").to_string();
    let read: Value = app.get(&reference).await.json().await.unwrap();
    assert_eq!(read["id"], gate_id.as_str());
    wait_for(&app, &gate_id, |e| stage_status(e, "2") == "RUNNING").await;
    let canceled: Value = app.client.put(app.url(&format!("/api/v1/executions/{gate_id}/cancel?reason=no"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(canceled["canceled"], true);
    wait_for(&app, &gate_id, |e| e["status"] == "CANCELED").await;

    let listed: Vec<Value> = app.get("/api/v1/executions?application=shop&statuses=SUCCEEDED,CANCELED&limit=10").await.json().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], gate_id.as_str(), "newest first");
    let only_ok: Vec<Value> = app.get("/api/v1/executions?application=shop&pipeline=release&statuses=SUCCEEDED").await.json().await.unwrap();
    assert_eq!(only_ok.len(), 1);
    assert_error(app.get("/api/v1/executions?statuses=DONE").await, 400, "invalid", Some("statuses")).await;

    let evaluated: Value = app.post_json(&format!("/api/v1/executions/{id}/evaluate"), &json!({"expression": "${stage('Prepare').outputs.target + '!'}"})).await.json().await.unwrap();
    assert_eq!(evaluated["result"], "prod!");
    let failed = app.post_json(&format!("/api/v1/executions/{id}/evaluate"), &json!({"expression": "${nope.x}"})).await;
    assert_error(failed, 400, "invalid", Some("expression")).await;
    let late = app.client.patch(app.url(&format!("/api/v1/executions/{id}/stages/2"))).json(&json!({"judgmentStatus": "stop"})).send().await.unwrap();
    assert_eq!(late.status(), 409, "a finished judgment cannot be judged again");
}

async fn socket(app: &TestApp, subscribe: Value) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = app.url("/api/v1/ws").replace("http://", "ws://");
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", app.admin_token).parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    socket
}

async fn next_event(socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(3), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// The run as of `event`: a whole run replaces `state`, a delta updates it.
fn fold(state: &mut Option<app::model::execution::Execution>, event: &Value) -> Value {
    let event: app::model::execution::ExecutionEvent = serde_json::from_value(event.clone()).unwrap_or_else(|error| panic!("{error}: {event}"));
    match event.change {
        app::model::execution::Change::Execution(execution) => *state = Some(execution),
        change => change.apply_to(state.as_mut().expect("a delta comes after the whole run")),
    }
    serde_json::to_value(state.as_ref().unwrap()).unwrap()
}

async fn events_resume_after_a_reconnect_exactly_once_in_order(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("shop").await;
    app.post_json("/api/v1/applications/shop/pipelines", &judged_pipeline()).await;
    let started: Value = app.post_json("/api/v1/applications/shop/pipelines/release/executions", &json!({"parameters": {"env": "dev"}})).await.json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_string();

    // First connection: everything until the judgment waits, then the client goes away.
    let mut first = socket(&app, json!({"execution": id, "after": 0})).await;
    let mut seen: Vec<Value> = Vec::new();
    let mut state = None;
    while let Some(event) = next_event(&mut first).await {
        let waiting = stage_status(&fold(&mut state, &event), "2") == "RUNNING";
        seen.push(event);
        if waiting {
            break;
        }
    }
    drop(first);
    let last = seen.last().unwrap()["seq"].as_i64().unwrap();

    // While nobody listens, the judgment lets the run finish.
    app.client.patch(app.url(&format!("/api/v1/executions/{id}/stages/2"))).json(&json!({"judgmentStatus": "continue"})).send().await.unwrap();
    wait_for(&app, &id, |e| e["status"] == "SUCCEEDED").await;

    let mut second = socket(&app, json!({"execution": id, "after": last})).await;
    while let Some(event) = next_event(&mut second).await {
        let finished = fold(&mut state, &event)["status"] == "SUCCEEDED";
        seen.push(event);
        if finished {
            break;
        }
    }
    let mut replay = socket(&app, json!({"execution": id, "after": 0})).await;
    let mut everything = Vec::new();
    let mut replayed = None;
    while let Some(event) = next_event(&mut replay).await {
        let finished = fold(&mut replayed, &event)["status"] == "SUCCEEDED";
        everything.push(event["seq"].as_i64().unwrap());
        if finished {
            break;
        }
    }
    let seqs: Vec<i64> = seen.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, everything, "every event exactly once, in order, across the reconnect");
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]));
    // The first event is the whole run and the rest are deltas: the state they build is the
    // run as stored, on the resumed connection and on the replay alike.
    assert!(seen[0].get("execution").is_some(), "{}", seen[0]);
    assert!(seen[1..].iter().all(|event| event.get("delta").is_some()), "then deltas");
    let stored: Value = app.client.get(app.url(&format!("/api/v1/executions/{id}"))).send().await.unwrap().json().await.unwrap();
    let stored: app::model::execution::Execution = serde_json::from_value(stored).unwrap();
    assert_eq!(state.as_ref(), Some(&stored));
    assert_eq!(replayed.as_ref(), Some(&stored));

    // A subscription to something the caller may not read is refused in the socket's words.
    let mut refused = socket(&app, json!({"execution": "nope"})).await;
    let answer = next_event(&mut refused).await.unwrap();
    assert_eq!(answer["error"]["code"], "not_found");
    let anonymous = app.anonymous.get(app.url("/api/v1/ws")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}
