//! Spinnaker Gate's API under `/gate`, replayed in the order `spin` makes its calls
//! (application save → get; pipeline get 404 → save → get → execute → poll → judge → cancel;
//! delete), with HTTP Basic authentication as `spin` sends it, checking the status codes and
//! the fields those clients read.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Db, TestApp, spawn_app};

both_databases!(spin_calls_work_in_spins_order);

/// `spin` with `auth.basic` in its config: every call carries the user and password.
struct Spin<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    user: String,
    secret: String,
}

impl Spin<'_> {
    fn call(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.app.url(&format!("/gate{path}"))).basic_auth(&self.user, Some(&self.secret))
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.call(reqwest::Method::GET, path).send().await.unwrap()
    }

    /// Polls a task reference to its end, as `spin` does after an application save.
    async fn task_outcome(&self, reference: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let task: Value = self.get(reference).await.json().await.unwrap();
            if ["SUCCEEDED", "TERMINAL"].contains(&task["status"].as_str().unwrap_or_default()) {
                return task;
            }
            assert!(Instant::now() < deadline, "the task never ended: {task}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn execution_until(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let execution: Value = self.get(&format!("/pipelines/{id}")).await.json().await.unwrap();
            if done(&execution) {
                return execution;
            }
            assert!(Instant::now() < deadline, "timed out: {execution}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn spin_calls_work_in_spins_order(db: Db) {
    let app = spawn_app(db).await;
    let password = "spinner password long enough";
    let created = app.post_json("/api/v1/users", &json!({"name": "spinner", "password": password, "roles": ["deployers"]})).await;
    assert_eq!(created.status(), 201);
    let spin = Spin { app: &app, client: reqwest::Client::new(), user: "spinner".into(), secret: password.into() };

    // Who is calling: a wrong password is refused; Gate's version answers.
    let wrong = app.anonymous.get(app.url("/gate/version")).basic_auth("spinner", Some("nope")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let version: Value = spin.get("/version").await.json().await.unwrap();
    assert!(version["version"].as_str().unwrap().starts_with("gennaker"));

    // spin application save: a task with a createApplication job, polled to its end.
    let save_app = json!({"application": "spinapp", "description": "Create Application: spinapp",
        "job": [{"type": "createApplication", "application": {"name": "spinapp", "email": "team@example.test",
            "cloudProviders": "kubernetes", "permissions": {"READ": ["deployers"], "WRITE": ["deployers"], "EXECUTE": ["deployers"]}}}]});
    let answer = spin.call(reqwest::Method::POST, "/tasks").json(&save_app).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let reference = answer.json::<Value>().await.unwrap()["ref"].as_str().unwrap().to_string();
    assert!(reference.starts_with("/tasks/"), "{reference}");
    assert_eq!(spin.task_outcome(&reference).await["status"], "SUCCEEDED");
    // spin application get
    let application: Value = spin.get("/applications/spinapp").await.json().await.unwrap();
    assert_eq!(application["name"], "spinapp");
    assert_eq!(application["attributes"]["email"], "team@example.test");
    assert_eq!(application["attributes"]["permissions"]["WRITE"], json!(["deployers"]));
    let listed: Value = spin.get("/applications").await.json().await.unwrap();
    assert!(listed.as_array().unwrap().iter().any(|a| a["name"] == "spinapp"));

    // spin pipeline save: a get that must 404 first, then the save (200, empty body), then get.
    assert_eq!(spin.get("/applications/spinapp/pipelineConfigs/release").await.status(), 404);
    let pipeline = json!({"application": "spinapp", "name": "release", "keepWaitingPipelines": false, "limitConcurrent": true,
        "parameterConfig": [{"name": "n", "default": "1"}],
        "stages": [{"refId": "1", "type": "manualJudgment", "name": "Approve", "requisiteStageRefIds": []},
                   {"refId": "2", "type": "wait", "name": "Settle", "waitTime": "600", "requisiteStageRefIds": ["1"]}],
        "triggers": [], "updateTs": "1700000000000", "index": 0});
    let saved = spin.call(reqwest::Method::POST, "/pipelines").json(&pipeline).send().await.unwrap();
    assert_eq!(saved.status(), 200);
    assert!(saved.text().await.unwrap().is_empty(), "Gate answers an empty body");
    let stored: Value = spin.get("/applications/spinapp/pipelineConfigs/release").await.json().await.unwrap();
    let pipeline_id = stored["id"].as_str().unwrap().to_string();
    assert_eq!(stored["stages"][1]["waitTime"], "600", "kept as written");
    assert_eq!(stored["index"], 0);
    // Saving again without an id (as spin does when its file has none) updates that pipeline.
    let saved = spin.call(reqwest::Method::POST, "/pipelines").json(&pipeline).send().await.unwrap();
    assert_eq!(saved.status(), 200);
    let configs: Value = spin.get("/applications/spinapp/pipelineConfigs").await.json().await.unwrap();
    assert_eq!(configs.as_array().unwrap().len(), 1, "an upsert, not a second pipeline: {configs}");

    // spin pipeline execute: 202 and a reference; then the execution in Orca's shape.
    let started = spin.call(reqwest::Method::POST, "/pipelines/spinapp/release").json(&json!({"type": "manual", "parameters": {"n": 2}})).send().await.unwrap();
    assert_eq!(started.status(), 202);
    let reference = started.json::<Value>().await.unwrap()["ref"].as_str().unwrap().to_string();
    let execution_id = reference.strip_prefix("/pipelines/").unwrap().to_string();
    let running = spin.execution_until(&execution_id, |e| e["stages"][0]["status"] == "RUNNING").await;
    assert_eq!(running["type"], "PIPELINE");
    assert_eq!(running["pipelineConfigId"], pipeline_id.as_str());
    assert_eq!(running["trigger"]["parameters"]["n"], "2");
    assert!(running["startTime"].is_number());
    let judgment = &running["stages"][0];
    assert_eq!(judgment["refId"], "1");
    assert_eq!(judgment["type"], "manualJudgment");
    assert!(judgment["context"].is_object() && judgment["tasks"].is_array(), "{judgment}");
    let stage_id = judgment["id"].as_str().unwrap().to_string();

    // Judge (the stage's id within the execution, as Orca gives it), then cancel.
    let judged = spin
        .call(reqwest::Method::PATCH, &format!("/pipelines/{execution_id}/stages/{stage_id}"))
        .json(&json!({"judgmentStatus": "continue", "judgmentInput": "", "lastModifiedBy": "spinner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(judged.status(), 200);
    let waiting = spin.execution_until(&execution_id, |e| e["stages"][1]["status"] == "RUNNING").await;
    assert_eq!(waiting["stages"][0]["status"], "SUCCEEDED");
    let listed: Value = spin.get(&format!("/executions?pipelineConfigIds={pipeline_id}&limit=5")).await.json().await.unwrap();
    assert_eq!(listed[0]["id"], execution_id.as_str());
    let listed: Value = spin.get("/applications/spinapp/pipelines?limit=5").await.json().await.unwrap();
    assert_eq!(listed[0]["id"], execution_id.as_str());
    let canceled = spin.call(reqwest::Method::PUT, &format!("/pipelines/{execution_id}/cancel")).send().await.unwrap();
    assert_eq!(canceled.status(), 200);
    assert!(canceled.text().await.unwrap().is_empty());
    spin.execution_until(&execution_id, |e| e["status"] == "CANCELED").await;

    // spin pipeline delete: 200, also when nothing matches.
    for _ in 0..2 {
        let deleted = spin.call(reqwest::Method::DELETE, "/pipelines/spinapp/release").send().await.unwrap();
        assert_eq!(deleted.status(), 200);
    }
    assert_eq!(spin.get("/applications/spinapp/pipelineConfigs/release").await.status(), 404);

    // An API token works as the Basic password too (Terraform providers send one so).
    let token = app.token_for("spinner", password).await;
    let with_token = Spin { app: &app, client: reqwest::Client::new(), user: "spinner".into(), secret: token.clone() };
    assert_eq!(with_token.get("/applications/spinapp").await.status(), 200);
    let someone_elses = Spin { app: &app, client: reqwest::Client::new(), user: "admin".into(), secret: token };
    assert_eq!(someone_elses.get("/applications/spinapp").await.status(), 401, "a token is its own user's");

    // Authorization is REST's: a user without roles may not touch spinapp.
    app.post_json("/api/v1/users", &json!({"name": "nobody", "password": "nobody password long enough", "roles": []})).await;
    let nobody = Spin { app: &app, client: reqwest::Client::new(), user: "nobody".into(), secret: "nobody password long enough".into() };
    assert_eq!(nobody.get("/applications/spinapp").await.status(), 403);
    let delete_app = json!({"application": "spinapp", "job": [{"type": "deleteApplication", "application": {"name": "spinapp"}}]});
    assert_eq!(nobody.call(reqwest::Method::POST, "/tasks").json(&delete_app).send().await.unwrap().status(), 403);

    // spin application delete.
    let answer: Value = spin.call(reqwest::Method::POST, "/tasks").json(&delete_app).send().await.unwrap().json().await.unwrap();
    assert_eq!(spin.task_outcome(answer["ref"].as_str().unwrap()).await["status"], "SUCCEEDED");
    assert_eq!(spin.get("/applications/spinapp").await.status(), 404);
    assert_eq!(spin.get("/no/such/call").await.status(), 404);
}
