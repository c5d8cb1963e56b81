//! Triggers over REST: signed webhooks (a wrong signature is 401 and starts nothing, a payload
//! outside the constraints starts nothing and says why), unsigned webhooks for token callers
//! only, GitHub push hooks, pipeline triggers chaining two pipelines with the parent's outputs
//! visible in the child, and `runAsUser`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server::triggers::webhook::signature;

use crate::both_databases;
use crate::helpers::{Db, TestApp, assert_error, spawn_app};

async fn save(app: &TestApp, application: &str, pipeline: Value) -> reqwest::Response {
    app.post_json(&format!("/api/v1/applications/{application}/pipelines"), &pipeline).await
}

async fn runs(app: &TestApp, application: &str, pipeline: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/executions?application={application}&pipeline={pipeline}&limit=50")).await.json().await.unwrap()
}

async fn finished(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let execution: Value = app.get(&format!("/api/v1/executions/{id}")).await.json().await.unwrap();
        if !["NOT_STARTED", "RUNNING", "BUFFERED"].contains(&execution["status"].as_str().unwrap_or_default()) {
            return execution;
        }
        assert!(Instant::now() < deadline, "{execution:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn signed(app: &TestApp, path: &str, secret: &str, body: &Value) -> reqwest::RequestBuilder {
    let text = body.to_string();
    app.anonymous
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("x-gennaker-signature-256", signature(secret.as_bytes(), text.as_bytes()))
        .body(text)
}

async fn webhooks_start_pipelines_only_when_signed_and_matching(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("hooks").await;
    let pipeline = json!({"name": "on-hook", "parameterConfig": [{"name": "version", "default": "v1"}],
        "triggers": [{"type": "webhook", "source": "ci", "payloadConstraints": {"build.branch": "main"}, "secretName": "hook-secret"}],
        "stages": [{"refId": "1", "type": "evaluateVariables", "name": "read", "variables": [{"key": "branch", "value": "${trigger.payload.build.branch}"}]}]});
    assert_error(save(&app, "hooks", pipeline.clone()).await, 400, "invalid", Some("triggers[0].secretName")).await;
    let secret = app.post_json("/api/v1/secrets", &json!({"name": "hook-secret", "value": "s3cret"})).await;
    assert!(secret.status().is_success());
    assert_eq!(save(&app, "hooks", pipeline).await.status(), 200);
    let bad_type = json!({"name": "odd", "triggers": [{"type": "carrier-pigeon"}]});
    assert_error(save(&app, "hooks", bad_type).await, 400, "invalid", Some("triggers[0].type")).await;
    let bad_regex = json!({"name": "odd", "triggers": [{"type": "webhook", "source": "ci", "payloadConstraints": {"b": "("}}]});
    assert_error(save(&app, "hooks", bad_regex).await, 400, "invalid", Some("triggers[0].payloadConstraints.b")).await;

    let body = json!({"build": {"branch": "main"}, "parameters": {"version": "v7"}});
    // Unsigned and anonymous: 401. Wrongly signed: 401. Nothing started.
    assert_eq!(app.anonymous.post(app.url("/api/v1/webhooks/ci")).json(&body).send().await.unwrap().status(), 401);
    assert_error(signed(&app, "/api/v1/webhooks/ci", "wrong", &body).send().await.unwrap(), 401, "unauthenticated", None).await;
    assert!(runs(&app, "hooks", "on-hook").await.is_empty());

    // Signed, but the branch is not main: nothing starts, and the answer says why.
    let dev = json!({"build": {"branch": "dev"}});
    let answer: Value = signed(&app, "/api/v1/webhooks/ci", "s3cret", &dev).send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["triggered"], json!([]));
    let reason = answer["skipped"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("build.branch") && reason.contains("dev"), "{answer}");
    assert!(runs(&app, "hooks", "on-hook").await.is_empty());

    // Signed and matching: one run, with the payload and parameters.
    let response = signed(&app, "/api/v1/webhooks/ci", "s3cret", &body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let id = answer["triggered"][0]["executionId"].as_str().unwrap_or_else(|| panic!("{answer}")).to_string();
    let run = finished(&app, &id).await;
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    assert_eq!(run["trigger"]["type"], "webhook");
    assert_eq!(run["trigger"]["user"], "anonymous");
    assert_eq!(run["trigger"]["parameters"]["version"], "v7");
    assert_eq!(run["stages"][0]["outputs"]["branch"], "main");

    // A trigger without a secret: only callers with a token (and EXECUTE) start it.
    let open = json!({"name": "by-token", "triggers": [{"type": "webhook", "source": "deploy"}], "stages": []});
    assert_eq!(save(&app, "hooks", open).await.status(), 200);
    assert_eq!(app.anonymous.post(app.url("/api/v1/webhooks/deploy")).json(&json!({})).send().await.unwrap().status(), 401);
    let by_token: Value = app.post_json("/api/v1/webhooks/deploy", &json!({})).await.json().await.unwrap();
    assert_eq!(by_token["triggered"][0]["pipeline"], "by-token", "{by_token}");
}

async fn git_pushes_start_pipelines_watching_the_branch(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("repo").await;
    assert!(app.post_json("/api/v1/secrets", &json!({"name": "github", "value": "gh-secret"})).await.status().is_success());
    let pipeline = json!({"name": "on-push", "triggers": [{"type": "git", "source": "github", "project": "acme", "slug": "shop",
        "branch": "main|release/.*", "secretName": "github"}], "stages": []});
    assert_eq!(save(&app, "repo", pipeline).await.status(), 200);
    let push = |branch: &str| json!({"ref": format!("refs/heads/{branch}"), "after": "0123abc",
        "repository": {"name": "shop", "owner": {"login": "acme"}}});
    let hook = |body: &Value| {
        let text = body.to_string();
        app.anonymous
            .post(app.url("/api/v1/webhooks/git/github"))
            .header("x-github-event", "push")
            .header("x-hub-signature-256", signature(b"gh-secret", text.as_bytes()))
            .body(text)
    };
    let answer: Value = hook(&push("feature/x")).send().await.unwrap().json().await.unwrap();
    assert!(answer["skipped"][0]["reason"].as_str().unwrap().contains("feature/x"), "{answer}");
    let answer: Value = hook(&push("release/2.0")).send().await.unwrap().json().await.unwrap();
    let id = answer["triggered"][0]["executionId"].as_str().unwrap_or_else(|| panic!("{answer}")).to_string();
    let run = finished(&app, &id).await;
    assert_eq!((run["trigger"]["type"].as_str(), run["trigger"]["branch"].as_str(), run["trigger"]["hash"].as_str()), (Some("git"), Some("release/2.0"), Some("0123abc")));
    assert_error(app.post_json("/api/v1/webhooks/git/svn", &json!({})).await, 404, "not_found", None).await;
}

async fn a_pipeline_trigger_chains_runs_with_the_parents_outputs(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("chain").await;
    let first = json!({"name": "build", "stages": [{"refId": "1", "type": "evaluateVariables", "name": "make",
        "variables": [{"key": "artifact", "value": "shop-1.2.3.tgz"}]}]});
    assert_eq!(save(&app, "chain", first).await.status(), 200);
    // runAsUser: a service account with the deployers role; a user without it may not name it.
    let robot = app.post_json("/api/v1/users", &json!({"name": "robot", "roles": ["deployers"], "serviceAccount": true})).await;
    assert!(robot.status().is_success(), "{}", robot.text().await.unwrap());
    let second = json!({"name": "deploy", "triggers": [{"type": "pipeline", "application": "chain", "pipeline": "build", "status": ["successful"], "runAsUser": "robot"}],
        "stages": [{"refId": "1", "type": "evaluateVariables", "name": "pick",
            "variables": [{"key": "from", "value": "${trigger.parentExecution.stages[0].outputs.artifact}"}]}]});
    let permissions = json!({"READ": ["dev"], "WRITE": ["dev"], "EXECUTE": ["dev", "deployers"]});
    assert_eq!(app.client.put(app.url("/api/v1/applications/chain/permissions")).json(&permissions).send().await.unwrap().status(), 200);
    let dev = app.user_client("devin", &["dev"]).await;
    let refused = dev.post(app.url("/api/v1/applications/chain/pipelines")).json(&second).send().await.unwrap();
    assert_error(refused, 403, "forbidden", None).await;
    assert_eq!(save(&app, "chain", second).await.status(), 200);

    let started: Value = app.post_json("/api/v1/applications/chain/pipelines/build/executions", &json!({})).await.json().await.unwrap();
    let parent = finished(&app, started["id"].as_str().unwrap()).await;
    assert_eq!(parent["status"], "SUCCEEDED");
    let deadline = Instant::now() + Duration::from_secs(20);
    let child = loop {
        if let Some(child) = runs(&app, "chain", "deploy").await.into_iter().next() {
            break finished(&app, child["id"].as_str().unwrap()).await;
        }
        assert!(Instant::now() < deadline, "the pipeline trigger never fired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(child["status"], "SUCCEEDED", "{child:#}");
    assert_eq!(child["trigger"]["type"], "pipeline");
    assert_eq!(child["trigger"]["user"], "robot");
    assert_eq!(child["trigger"]["parentExecution"]["id"], parent["id"]);
    assert_eq!(child["stages"][0]["outputs"]["from"], "shop-1.2.3.tgz");
    // Exactly one child per parent run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(runs(&app, "chain", "deploy").await.len(), 1);
}

both_databases!(
    webhooks_start_pipelines_only_when_signed_and_matching,
    git_pushes_start_pipelines_watching_the_branch,
    a_pipeline_trigger_chains_runs_with_the_parents_outputs,
);

/// Cron triggers under a test clock: the first look only notes the time, an occurrence starts
/// one run, and after an outage only the latest missed occurrence runs, once.
async fn cron_fires_on_schedule_and_a_missed_run_runs_once(db: Db) {
    use app::model::auth::{Caller, Credential};
    use app::ssr::{ApplicationService, PipelineService};
    use server::store::executions::ExecutionFilter;
    use server::triggers::cron::tick;

    let store = server::store::Store::open(&server::config::DatabaseUrl(crate::helpers::fresh_database(db).await)).await.unwrap();
    let admin = Caller { name: "tester".into(), roles: vec![], admin: true, via: Credential::System };
    let new = app::model::NewApplication { name: "timed".into(), description: String::new(), email: String::new() };
    server::service::applications::Applications::new(store.clone()).create(&admin, new).await.unwrap();
    let pipelines = server::engine::service::Pipelines::new(store.clone());
    let bad = json!({"name": "broken", "triggers": [{"type": "cron", "cronExpression": "0 0 25 * * ?"}]});
    let refused = pipelines.save(&admin, "timed", bad).await.unwrap_err();
    assert!(matches!(&refused, app::error::AppError::Invalid { field: Some(field), .. } if field == "triggers[0].cronExpression"), "{refused:?}");
    let hourly = json!({"name": "hourly", "limitConcurrent": false, "triggers": [{"type": "cron", "cronExpression": "0 0 * * * ?"}], "stages": []});
    let saved = pipelines.save(&admin, "timed", hourly).await.unwrap();
    assert!(saved.triggers[0]["id"].as_str().is_some_and(|id| !id.is_empty()), "cron triggers get a stable id");

    let at = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis();
    let runs = || async {
        let filter = ExecutionFilter { pipeline_id: Some(saved.id.clone()), limit: 50, ..Default::default() };
        store.list_executions(&filter).await.unwrap()
    };
    assert_eq!(tick(&store, "one", at("2030-01-01T10:30:00Z")).await.unwrap(), 0, "the first look only notes the time");
    assert_eq!(tick(&store, "one", at("2030-01-01T10:59:59Z")).await.unwrap(), 0);
    assert_eq!(tick(&store, "one", at("2030-01-01T11:00:00Z")).await.unwrap(), 1);
    assert_eq!(tick(&store, "one", at("2030-01-01T11:00:01Z")).await.unwrap(), 0);
    assert!(!store.take_poll_lease("cron", "two", at("2030-01-01T11:00:02Z"), 10_000).await.unwrap(), "one instance polls");
    let first = runs().await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].trigger.kind, "cron");
    // Down from 11:00:01 to 15:10: one run, for 15:00, not four.
    assert_eq!(tick(&store, "one", at("2030-01-01T15:10:00Z")).await.unwrap(), 1);
    let all = runs().await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].trigger.extra["scheduledTime"], json!(at("2030-01-01T15:00:00Z")));
    // A second instance after the first one's lease ran out carries on without repeating.
    assert_eq!(tick(&store, "two", at("2030-01-01T15:10:30Z")).await.unwrap(), 0);
    assert_eq!(runs().await.len(), 2);
}

both_databases!(cron_fires_on_schedule_and_a_missed_run_runs_once);
