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
    // A trigger type gennaker lacks is kept, with a warning, and never fires.
    let unknown_type = json!({"name": "pigeon", "triggers": [{"type": "carrier-pigeon", "loft": "north"}]});
    let saved: Value = save(&app, "hooks", unknown_type).await.json().await.unwrap();
    assert!(saved["warnings"][0].as_str().unwrap().contains("\"carrier-pigeon\""), "{saved}");
    assert_eq!(saved["triggers"][0]["loft"], "north");
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
    let missing = json!({"name": "half", "triggers": [{"type": "git", "source": "github", "slug": "shop"}], "stages": []});
    // Kept (Spinnaker keeps it) with a warning naming the field; it never fires.
    let kept: Value = save(&app, "repo", missing).await.json().await.unwrap();
    assert!(kept["warnings"][0].as_str().unwrap().starts_with("triggers[0].project"), "{kept}");
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
    let pipelines = server::service::pipelines::Pipelines::new(store.clone());
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
    // The runs' build times follow the polls' times, as in production (one clock for both).
    let clock = server::engine::clock::ManualClock::starting_at(at("2030-01-01T10:30:00Z"));
    let engine = server::engine::Engine::new(store.clone(), std::sync::Arc::new(clock.clone()));
    use server::engine::clock::Clock;
    let tick_at = |owner: &'static str, time: i64| {
        clock.advance(time - clock.now());
        let launcher = engine.launcher().clone();
        async move { tick(&launcher, owner, time).await }
    };
    assert_eq!(tick_at("one", at("2030-01-01T10:30:00Z")).await.unwrap(), 0, "the first look only notes the time");
    assert_eq!(tick_at("one", at("2030-01-01T10:59:59Z")).await.unwrap(), 0);
    assert_eq!(tick_at("one", at("2030-01-01T11:00:00Z")).await.unwrap(), 1);
    assert_eq!(tick_at("one", at("2030-01-01T11:00:01Z")).await.unwrap(), 0);
    assert!(!store.take_poll_lease("cron", "two", at("2030-01-01T11:00:02Z"), 10_000).await.unwrap(), "one instance polls");
    let first = runs().await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].trigger.kind, "cron");
    // Down from 11:00:01 to 15:10: one run, for 15:00, not four.
    assert_eq!(tick_at("one", at("2030-01-01T15:10:00Z")).await.unwrap(), 1);
    let all = runs().await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].trigger.extra["scheduledTime"], json!(at("2030-01-01T15:00:00Z")));
    // A second instance after the first one's lease ran out carries on without repeating.
    assert_eq!(tick_at("two", at("2030-01-01T15:10:30Z")).await.unwrap(), 0);
    assert_eq!(runs().await.len(), 2);
}

both_databases!(cron_fires_on_schedule_and_a_missed_run_runs_once);

/// The launcher the trigger pollers start runs through (the engine's, on the system clock).
fn launcher(store: &server::store::Store) -> server::engine::launcher::Launcher {
    let engine = server::engine::Engine::new(store.clone(), std::sync::Arc::new(server::engine::clock::SystemClock));
    engine.launcher().clone()
}

/// A real registry: Debian's `docker-registry` (installed by `scripts/docker-registry`) with a
/// config of its own on a free port, its storage in a temporary folder.
pub struct Registry {
    child: std::process::Child,
    pub address: String,
    dir: std::path::PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn registry() -> Registry {
    let binary = "/usr/bin/docker-registry";
    assert!(std::path::Path::new(binary).exists(), "no {binary}: run scripts/docker-registry");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("gennaker-registry-{}-{port}", std::process::id()));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.join("data").display()
    );
    std::fs::write(dir.join("config.yml"), config).unwrap();
    let child = std::process::Command::new(binary)
        .args(["serve", dir.join("config.yml").to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker-registry starts");
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "docker-registry did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Registry { child, address: format!("127.0.0.1:{port}"), dir }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Pushes an image over the registry v2 API (a blob upload per blob, then the manifest), as
/// `curl` would; `content` makes the image, and so its digest, differ.
pub async fn push(registry: &Registry, repository: &str, tag: &str, content: &str) {
    let http = reqwest::Client::new();
    let base = format!("http://{}", registry.address);
    let config = json!({"architecture": "amd64", "os": "linux", "config": {"Labels": {"content": content}}, "rootfs": {"type": "layers", "diff_ids": []}}).to_string();
    let layer = format!("layer of {content}");
    for blob in [config.as_bytes(), layer.as_bytes()] {
        let started = http.post(format!("{base}/v2/{repository}/blobs/uploads/")).send().await.unwrap();
        assert_eq!(started.status(), 202);
        let location = started.headers()["location"].to_str().unwrap().to_string();
        let location = if location.starts_with("http") { location } else { format!("{base}{location}") };
        let separator = if location.contains('?') { '&' } else { '?' };
        let done = http.put(format!("{location}{separator}digest={}", sha256(blob))).body(blob.to_vec()).send().await.unwrap();
        assert_eq!(done.status(), 201, "{}", done.text().await.unwrap());
    }
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": sha256(config.as_bytes())},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer.len(), "digest": sha256(layer.as_bytes())}]});
    let put = http
        .put(format!("{base}/v2/{repository}/manifests/{tag}"))
        .header("content-type", "application/vnd.docker.distribution.manifest.v2+json")
        .body(manifest.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());
}

/// New tags in a real registry start the pipeline exactly once, across a restart (a new store
/// connection and poller) in between; a re-push of the same digest does not; a new digest of
/// a tag does.
async fn docker_pushes_start_the_pipeline_once_each(db: Db) {
    use app::model::auth::{Caller, Credential};
    use app::ssr::{ApplicationService, PipelineService};
    use server::store::executions::ExecutionFilter;
    use server::triggers::docker::poll;

    let registry = registry();
    let database = crate::helpers::fresh_database(db).await;
    let store = server::store::Store::open(&server::config::DatabaseUrl(database.clone())).await.unwrap();
    let admin = Caller { name: "tester".into(), roles: vec![], admin: true, via: Credential::System };
    let new = app::model::NewApplication { name: "images".into(), description: String::new(), email: String::new() };
    server::service::applications::Applications::new(store.clone()).create(&admin, new).await.unwrap();
    let pipeline = json!({"name": "on-image", "limitConcurrent": false,
        "expectedArtifacts": [{"id": "image", "matchArtifact": {"type": "docker/image", "name": ".*/shop/web"}}],
        "triggers": [{"type": "docker", "registry": registry.address, "repository": "shop/web", "tag": "v[0-9.]+"}], "stages": []});
    let saved = server::service::pipelines::Pipelines::new(store.clone()).save(&admin, "images", pipeline).await.unwrap();
    let http = crate::helpers::loopback_outbound();
    let runs = |store: server::store::Store| {
        let id = saved.id.clone();
        async move { store.list_executions(&ExecutionFilter { pipeline_id: Some(id), limit: 50, ..Default::default() }).await.unwrap() }
    };
    let mut now = 1_900_000_000_000;

    push(&registry, "shop/web", "v1", "one").await;
    assert_eq!(poll(&launcher(&store), &http, "first", now).await.unwrap(), 0, "the first look only takes note of what is there");
    push(&registry, "shop/web", "v2", "two").await;
    push(&registry, "shop/web", "latest", "two").await;
    now += 1_000;
    assert_eq!(poll(&launcher(&store), &http, "first", now).await.unwrap(), 1, "v2 is new; latest does not match the tag pattern");
    let started = runs(store.clone()).await;
    assert_eq!(started[0].trigger.extra["tag"], "v2");
    assert!(started[0].trigger.extra["digest"].as_str().unwrap().starts_with("sha256:"));
    // The pushed image is the run's artifact, bound to the pipeline's expected artifact.
    let bound = &started[0].trigger.extra["resolvedExpectedArtifacts"][0]["boundArtifact"];
    assert_eq!(bound["type"], "docker/image");
    assert_eq!(bound["version"], "v2");
    assert!(bound["reference"].as_str().unwrap().ends_with("/shop/web:v2"), "{bound}");
    assert!(bound["metadata"]["digest"].as_str().unwrap().starts_with("sha256:"));
    now += 1_000;
    assert_eq!(poll(&launcher(&store), &http, "first", now).await.unwrap(), 0, "nothing new");

    // gennaker restarts (a new store connection, a new poller once the old lease ran out).
    drop(store);
    let store = server::store::Store::open(&server::config::DatabaseUrl(database)).await.unwrap();
    push(&registry, "shop/web", "v3", "three").await;
    push(&registry, "shop/web", "v2", "two").await;
    now += 120_000;
    assert_eq!(poll(&launcher(&store), &http, "second", now).await.unwrap(), 1, "v3 only: v2 was pushed again with the same digest");
    push(&registry, "shop/web", "v2", "two, rebuilt").await;
    now += 1_000;
    assert_eq!(poll(&launcher(&store), &http, "second", now).await.unwrap(), 1, "a new digest of v2");
    let tags: Vec<String> = runs(store.clone()).await.iter().map(|run| run.trigger.extra["tag"].as_str().unwrap().to_string()).collect();
    assert_eq!(tags, ["v2", "v3", "v2"]);
}

both_databases!(docker_pushes_start_the_pipeline_once_each);

/// Jenkins triggers against a small HTTP server that answers Jenkins' JSON API for one job and
/// serves a build's property file. No Jenkins can run here (it is not in the registries this
/// machine reaches), so this server stands in for it, speaking the same URLs and JSON.
async fn jenkins_builds_start_the_pipeline_once_each(db: Db) {
    use std::sync::{Arc, Mutex};

    use app::model::auth::{Caller, Credential};
    use app::ssr::{ApplicationService, PipelineService};
    use axum::extract::State;
    use axum::routing::get;
    use server::store::executions::ExecutionFilter;
    use server::triggers::jenkins::poll;

    let builds: Arc<Mutex<Vec<Value>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let job = |State(builds): State<Arc<Mutex<Vec<Value>>>>| async move { axum::Json(json!({"builds": *builds.lock().unwrap()})) };
    let router = axum::Router::new()
        .route("/job/team/job/shop/api/json", get(job))
        .route("/job/team/job/shop/{number}/artifact/build.properties", get(|axum::extract::Path(number): axum::extract::Path<u64>| async move {
            format!("VERSION=1.0.{number}\nCOMMIT=abc{number}\n")
        }))
        .with_state(builds.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let build = |number: u64, result: Option<&str>, building: bool| {
        json!({"number": number, "result": result, "building": building, "url": format!("{base}/job/team/job/shop/{number}/"), "timestamp": 1_700_000_000_000u64 + number})
    };

    let store = server::store::Store::open(&server::config::DatabaseUrl(crate::helpers::fresh_database(db).await)).await.unwrap();
    let admin = Caller { name: "tester".into(), roles: vec![], admin: true, via: Credential::System };
    let new = app::model::NewApplication { name: "ci".into(), description: String::new(), email: String::new() };
    server::service::applications::Applications::new(store.clone()).create(&admin, new).await.unwrap();
    let pipeline = json!({"name": "after-ci", "limitConcurrent": false,
        "triggers": [{"type": "jenkins", "master": "ci", "job": "team/job/shop", "propertyFile": "build.properties"}], "stages": []});
    let saved = server::service::pipelines::Pipelines::new(store.clone()).save(&admin, "ci", pipeline).await.unwrap();
    let masters = std::collections::BTreeMap::from([("ci".to_string(), base.clone())]);
    let http = crate::helpers::loopback_outbound();
    let runs = || async {
        store.list_executions(&ExecutionFilter { pipeline_id: Some(saved.id.clone()), limit: 50, ..Default::default() }).await.unwrap()
    };
    let mut now = 1_900_000_000_000;

    builds.lock().unwrap().push(build(1, Some("SUCCESS"), false));
    assert_eq!(poll(&launcher(&store), &http, &masters, "one", now).await.unwrap(), 0, "the first look only takes note");
    builds.lock().unwrap().extend([build(2, Some("FAILURE"), false), build(3, None, true)]);
    now += 1_000;
    assert_eq!(poll(&launcher(&store), &http, &masters, "one", now).await.unwrap(), 0, "a failed build and one still building start nothing");
    builds.lock().unwrap()[2] = build(3, Some("SUCCESS"), false);
    builds.lock().unwrap().push(build(4, Some("SUCCESS"), false));
    now += 1_000;
    assert_eq!(poll(&launcher(&store), &http, &masters, "one", now).await.unwrap(), 2, "builds 3 and 4");
    now += 120_000;
    assert_eq!(poll(&launcher(&store), &http, &masters, "two", now).await.unwrap(), 0, "another poller repeats nothing");
    let started = runs().await;
    let numbers: Vec<u64> = started.iter().map(|run| run.trigger.extra["buildInfo"]["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers.len(), 2);
    assert!(numbers.contains(&3) && numbers.contains(&4), "{numbers:?}");
    let four = started.iter().find(|run| run.trigger.extra["buildNumber"] == 4).unwrap();
    assert_eq!(four.trigger.extra["properties"]["VERSION"], "1.0.4");
    assert_eq!(four.trigger.kind, "jenkins");
}

both_databases!(jenkins_builds_start_the_pipeline_once_each);
