//! Durability of the engine with the real binary: a SIGKILL in the middle of runs loses and
//! repeats nothing after a restart; two engine processes on one PostgreSQL share a queue of 200
//! runs without handling any step twice. The event log (written in the same transaction as each
//! step) is the effect log the checks read.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

use crate::binary::{RunningBinary, sign_in, start_binary, stop_with_sigterm};
use crate::both_databases;
use crate::helpers::{Db, fresh_database};

both_databases!(runs_finish_after_a_sigkill_with_no_stage_run_twice);

pub(crate) struct Client {
    http: reqwest::Client,
    pub(crate) cookie: String,
    pub(crate) address: String,
}

impl Client {
    pub(crate) async fn new(running: &RunningBinary) -> Self {
        let http = reqwest::Client::new();
        let cookie = sign_in(&http, &running.address, "admin").await;
        Self { http, cookie, address: running.address.clone() }
    }

    pub(crate) fn at(&self, running: &RunningBinary) -> Self {
        Self { http: self.http.clone(), cookie: self.cookie.clone(), address: running.address.clone() }
    }

    pub(crate) async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.http.request(method, format!("{}{path}", self.address)).header("cookie", &self.cookie).header("origin", &self.address);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub(crate) async fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let response = self.send(method, path, body).await;
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap()
    }
}

pub(crate) fn kill_hard(mut running: RunningBinary) {
    Command::new("kill").args(["-KILL", &running.child.id().to_string()]).status().unwrap();
    let _ = running.child.wait();
}

/// Every stage entered RUNNING at most once and SUCCEEDED exactly once, judged from the event
/// log in sequence order.
pub(crate) fn assert_each_stage_ran_once(events: &[(String, Value)]) {
    let mut by_execution: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for (id, execution) in events {
        by_execution.entry(id.as_str()).or_default().push(execution);
    }
    for (id, snapshots) in by_execution {
        let mut previous: BTreeMap<String, String> = BTreeMap::new();
        let mut entered: BTreeMap<(String, String), usize> = BTreeMap::new();
        for snapshot in snapshots {
            for stage in snapshot["stages"].as_array().unwrap() {
                let ref_id = stage["refId"].as_str().unwrap().to_string();
                let status = stage["status"].as_str().unwrap().to_string();
                if previous.get(&ref_id) != Some(&status) {
                    *entered.entry((ref_id.clone(), status.clone())).or_default() += 1;
                }
                previous.insert(ref_id, status);
            }
        }
        for ((stage, status), times) in &entered {
            assert!(*times <= 1, "execution {id}: stage {stage} entered {status} {times} times");
        }
        for stage in previous.keys() {
            assert_eq!(entered.get(&(stage.clone(), "SUCCEEDED".to_string())), Some(&1), "execution {id}: stage {stage}");
        }
    }
}

/// Every state each run went through, in event order: the log holds a run's first state whole
/// and deltas after it, folded here into whole states.
pub(crate) async fn event_log(database_url: &str) -> Vec<(String, Value)> {
    use app::model::execution::Execution;
    use app::model::execution_delta::ExecutionDelta;
    let query = "SELECT execution_id, kind, body FROM execution_events ORDER BY seq";
    let rows: Vec<(String, String, String)> = if database_url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(database_url).await.unwrap();
        sqlx::query_as(query).fetch_all(&mut connection).await.unwrap()
    } else {
        let mut connection = sqlx::PgConnection::connect(database_url).await.unwrap();
        sqlx::query_as(query).fetch_all(&mut connection).await.unwrap()
    };
    let mut states: BTreeMap<String, Execution> = BTreeMap::new();
    rows.into_iter()
        .map(|(id, kind, body)| {
            if kind == "delta" {
                let delta: ExecutionDelta = serde_json::from_str(&body).unwrap();
                delta.apply(states.get_mut(&id).unwrap_or_else(|| panic!("a delta of {id} before its whole run")));
            } else {
                states.insert(id.clone(), serde_json::from_str(&body).unwrap());
            }
            let state = serde_json::to_value(&states[&id]).unwrap();
            (id, state)
        })
        .collect()
}

async fn runs_finish_after_a_sigkill_with_no_stage_run_twice(db: Db) {
    let database_url = fresh_database(db).await;
    let env = [("GENNAKER_ENGINE_LEASE_MS", "1500")];
    let first = start_binary(&database_url, &env);
    let client = Client::new(&first).await;
    client.json(reqwest::Method::POST, "/api/v1/applications", Some(json!({"name": "crash"}))).await;
    let pipeline = json!({"name": "durable", "limitConcurrent": false, "stages": [
        {"refId": "1", "name": "Vars", "type": "evaluateVariables", "variables": [{"key": "x", "value": 1}]},
        {"refId": "2", "name": "Wait", "type": "wait", "waitTime": 2, "requisiteStageRefIds": ["1"]},
        {"refId": "3", "name": "Judge", "type": "manualJudgment", "requisiteStageRefIds": ["2"]},
        {"refId": "4", "name": "After", "type": "wait", "waitTime": 1, "requisiteStageRefIds": ["3"]}
    ]});
    client.json(reqwest::Method::POST, "/api/v1/applications/crash/pipelines", Some(pipeline)).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        let execution = client.json(reqwest::Method::POST, "/api/v1/applications/crash/pipelines/durable/executions", None).await;
        ids.push(execution["id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    kill_hard(first);

    let second = start_binary(&database_url, &env);
    let client = client.at(&second);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut judged = std::collections::BTreeSet::new();
    loop {
        let mut finished = 0;
        for id in &ids {
            let execution = client.json(reqwest::Method::GET, &format!("/api/v1/executions/{id}"), None).await;
            let judge = &execution["stages"][2];
            if judge["status"] == "RUNNING" && judged.insert(id.clone()) {
                let verdict = json!({"judgmentStatus": "continue"});
                client.json(reqwest::Method::PATCH, &format!("/api/v1/executions/{id}/stages/3"), Some(verdict)).await;
            }
            if execution["status"] == "SUCCEEDED" {
                finished += 1;
            }
            assert!(!["TERMINAL", "CANCELED"].contains(&execution["status"].as_str().unwrap()), "{execution}");
        }
        if finished == ids.len() {
            break;
        }
        assert!(Instant::now() < deadline, "runs did not finish after the restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop_with_sigterm(second);
    assert_each_stage_ran_once(&event_log(&database_url).await);
}

/// Two `gennaker serve` processes on one PostgreSQL database: 200 runs, started through one of
/// them, drained by both; no step is committed twice and both did work.
#[tokio::test]
async fn two_engines_share_one_queue_without_doubling() {
    let database_url = fresh_database(Db::Postgres).await;
    let env = [("GENNAKER_WORKERS", "2"), ("RUST_LOG", "info,server::engine=debug")];
    let one = start_binary(&database_url, &env);
    let two = start_binary(&database_url, &env);
    let client = Client::new(&one).await;
    client.json(reqwest::Method::POST, "/api/v1/applications", Some(json!({"name": "scale"}))).await;
    let stages: Vec<Value> = (1..=3)
        .map(|n| json!({"refId": n.to_string(), "name": format!("Step {n}"), "type": "evaluateVariables",
            "variables": [{"key": "n", "value": n}], "requisiteStageRefIds": if n == 1 { vec![] } else { vec![(n - 1).to_string()] }}))
        .collect();
    client.json(reqwest::Method::POST, "/api/v1/applications/scale/pipelines", Some(json!({"name": "noop", "limitConcurrent": false, "stages": stages}))).await;
    for _ in 0..200 {
        client.send(reqwest::Method::POST, "/api/v1/applications/scale/pipelines/noop/executions", None).await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = client.json(reqwest::Method::GET, "/api/v1/executions?application=scale&statuses=SUCCEEDED&limit=500", None).await;
        if done.as_array().unwrap().len() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the engines did not drain the queue");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let one = stop_with_sigterm(one);
    let two = stop_with_sigterm(two);
    let events = event_log(&database_url).await;
    assert_each_stage_ran_once(&events);
    for (name, running) in [("first", &one), ("second", &two)] {
        let handled = running.output().matches("\"message\":\"handling\"").count();
        assert!(handled > 0, "the {name} engine handled no message");
    }
}
