//! Automated canary analysis end to end: demo-app server groups on the local cloud under
//! constant load from the test, a real Prometheus (Debian's) finding them through gennaker's
//! service discovery and scraping them every second, a stored Kayenta canary configuration,
//! and `kayentaCanary` stages written as Spinnaker pipelines write them (numbers as strings,
//! Kayenta-only fields kept) with seconds instead of minutes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::clusters::create_balancer;
use crate::helpers::{Db, TestApp, free_port, spawn_app_with};
use crate::prometheus::{Prometheus, ScrapeJob};

const METRICS_TOKEN: &str = "metrics-token-for-the-canary-tests";

/// Error ratio of a scope; `or vector(0)` so a server group that never failed reads 0, not
/// "no data".
const ERROR_RATIO: &str = "PromQL: (sum(rate(demo_requests_total{serverGroup=\"${scope}\",code=\"500\"}[3s])) or vector(0)) / sum(rate(demo_requests_total{serverGroup=\"${scope}\"}[3s]))";

fn demo_app(version: &str, fail_percent: u32) -> Value {
    json!([env!("CARGO_BIN_EXE_gennaker"), "demo-app", "--version", version, "--fail-percent", fail_percent.to_string()])
}

fn deploy(application: &str, stack: &str, version: &str, fail_percent: u32) -> Value {
    json!({"cloudProvider": "local", "account": "local", "region": "local", "application": application, "stack": stack, "freeFormDetails": "",
        "capacity": {"min": 2, "max": 2, "desired": 2}, "strategy": "none",
        "artifact": {"command": demo_app(version, fail_percent), "version": version},
        "loadBalancers": [format!("{application}-web")], "securityGroups": [], "waitForHealthyTimeoutSec": 30})
}

/// A baseline (v1) and a canary (v2, failing `fail_percent` of its requests) deployed side by
/// side behind the application's balancer, then the analysis of the canary against the
/// baseline, as Deck saves the stage.
fn canary_pipeline(application: &str, config_id: &str, fail_percent: u32) -> Value {
    json!({"name": "canary", "stages": [
        {"refId": "1", "type": "deploy", "name": "Deploy baseline", "clusters": [deploy(application, "baseline", "v1", 0)]},
        {"refId": "2", "type": "deploy", "name": "Deploy canary", "clusters": [deploy(application, "canary", "v2", fail_percent)]},
        {"refId": "3", "requisiteStageRefIds": ["1", "2"], "type": "kayentaCanary", "name": "Canary Analysis", "analysisType": "realTimeAutomatic",
         "canaryConfig": {
            "beginCanaryAnalysisAfterMins": "6s", "canaryAnalysisIntervalMins": "6s", "lifetimeDuration": "PT18S",
            "canaryConfigId": config_id, "metricsAccountName": "prometheus", "storageAccountName": "kayenta-minio",
            "combinedCanaryResultStrategy": "LOWEST",
            "scopes": [{"scopeName": "default", "controlScope": format!("{application}-baseline-v000"), "controlLocation": "local",
                "experimentScope": format!("{application}-canary-v000"), "experimentLocation": "local", "step": 1, "extendedScopeParams": {}}],
            "scoreThresholds": {"marginal": "50", "pass": "75"}}}
    ]})
}

async fn save_config(app: &TestApp, application: &str) -> String {
    let config = json!({"name": format!("{application}-errors"), "applications": [application],
        "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
        "metrics": [{"name": "error ratio", "query": {"type": "prometheus", "customInlineTemplate": ERROR_RATIO},
            "groups": ["Errors"], "scopeName": "default",
            "analysisConfigurations": {"canary": {"direction": "increase", "critical": true}}}],
        "templates": {}, "classifier": {"groupWeights": {"Errors": 100}}});
    let response = app.post_json(&format!("/api/v1/applications/{application}/canaryConfigs"), &config).await;
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    let saved: Value = response.json().await.unwrap();
    saved["id"].as_str().unwrap().to_string()
}

/// GETs through each balancer until stopped; counts answers by status.
fn load(ports: Vec<u16>) -> (tokio::task::JoinHandle<(u64, u64)>, tokio::sync::watch::Sender<bool>) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let (mut ok, mut failed) = (0, 0);
        while !*stopped.borrow() {
            let batch = ports.iter().flat_map(|port| (0..4).map(move |_| *port)).map(|port| client.get(format!("http://127.0.0.1:{port}/")).send());
            for answer in futures_util::future::join_all(batch).await {
                match answer {
                    Ok(answer) if answer.status().is_success() => ok += 1,
                    _ => failed += 1,
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (ok, failed)
    });
    (handle, stop)
}

/// Saves the pipeline (under a name of its own) and starts it; returns the execution's path.
async fn start(app: &TestApp, application: &str, pipeline: &Value) -> String {
    let mut pipeline = pipeline.clone();
    pipeline["name"] = json!(format!("canary {}", free_port()));
    let saved = app.post_json(&format!("/api/v1/applications/{application}/pipelines"), &pipeline).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let saved: Value = saved.json().await.unwrap();
    let path = format!("/api/v1/applications/{application}/pipelines/{}/executions", saved["id"].as_str().unwrap());
    let response = app.post_json(&path, &json!({})).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let started: Value = response.json().await.unwrap();
    format!("/api/v1/executions/{}", started["id"].as_str().unwrap())
}

/// Waits up to `seconds` for the execution to finish.
async fn finished_within(app: &TestApp, path: &str, seconds: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let execution: Value = app.get(path).await.json().await.unwrap();
        if !["NOT_STARTED", "RUNNING", "BUFFERED"].contains(&execution["status"].as_str().unwrap_or_default()) {
            return execution;
        }
        assert!(Instant::now() < deadline, "{path} still running: {execution:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn stage<'a>(execution: &'a Value, name: &str) -> &'a Value {
    execution["stages"].as_array().unwrap().iter().find(|stage| stage["name"] == name).unwrap_or_else(|| panic!("no stage {name}: {execution:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_is_stopped_at_its_first_interval_and_a_clean_one_passes_every_interval() {
    let token_file = std::env::temp_dir().join(format!("gennaker-metrics-token-{}", crate::helpers::free_port()));
    std::fs::write(&token_file, format!("{METRICS_TOKEN}\n")).unwrap();
    let token_path = token_file.clone();
    let app = spawn_app_with(Db::Sqlite, move |config| config.metrics_token_file = Some(token_path)).await;

    // Service discovery answers only the scraper's token (or a user).
    let anonymous = app.anonymous.get(app.url("/api/v1/metrics/targets")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = app.anonymous.get(app.url("/api/v1/metrics/targets")).bearer_auth("not-the-metrics-token-at-all").send().await.unwrap();
    assert_eq!(wrong.status(), 401);

    let prometheus = Prometheus::start(&[ScrapeJob::HttpSd {
        name: "gennaker-instances".into(),
        url: app.url("/api/v1/metrics/targets"),
        token_file: token_file.clone(),
    }])
    .await;
    let account = json!({"cloudProvider": "prometheus", "prometheus": {"baseUrl": prometheus.url}});
    let added = app.client.put(app.url("/api/v1/clouds/accounts/prometheus")).json(&account).send().await.unwrap();
    assert!(added.status().is_success(), "{}", added.text().await.unwrap());

    let mut ports = Vec::new();
    let mut runs = Vec::new();
    for (application, fail_percent) in [("fly", 20), ("calm", 0)] {
        app.create_application(application).await;
        let port = free_port();
        create_balancer(&app, application, port).await;
        ports.push(port);
        let config = save_config(&app, application).await;
        runs.push((application, start(&app, application, &canary_pipeline(application, &config, fail_percent)).await));
    }
    let (load, stop_load) = load(ports);

    let bad = finished_within(&app, &runs[0].1, 120).await;
    let good = finished_within(&app, &runs[1].1, 120).await;
    let _ = stop_load.send(true);
    let (ok, failed) = load.await.unwrap();
    assert!(ok > 100 && failed > 0, "the load reached both: {ok} ok, {failed} failed");

    // The failing canary: its error ratio is High, the metric is critical, the score 0, and the
    // stage stops after the first of its three intervals.
    assert_eq!(bad["status"], "TERMINAL", "{bad:#}");
    let analysis = stage(&bad, "Canary Analysis");
    assert_eq!(analysis["status"], "TERMINAL", "{analysis:#}");
    let error = analysis["context"]["exception"].to_string() + &analysis.to_string();
    assert!(error.contains("is not above the marginal score threshold 50 (stopped after interval 1 of 3)"), "{analysis:#}");
    let intervals = analysis["context"]["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 1, "{analysis:#}");
    assert_eq!(analysis["context"]["canaryScores"], json!([0.0]));
    let metric = &intervals[0]["metrics"][0];
    assert_eq!(metric["classification"], "High", "{metric:#}");
    assert!(metric["experiment"]["mean"].as_f64().unwrap() > 0.1, "about a fifth of the canary's requests fail: {metric:#}");
    assert_eq!(metric["control"]["mean"].as_f64().unwrap(), 0.0, "{metric:#}");
    assert!(!metric["experimentPoints"].as_array().unwrap().is_empty());
    let started = analysis["startTime"].as_i64().unwrap();
    let ended = analysis["endTime"].as_i64().unwrap();
    println!("bad canary: analysis started {started}, failed {} ms later (warm-up 6 s + one 6 s interval, 1 s scrape)", ended - started);

    // The report, server-rendered (readable without WASM): the score over time, each metric's
    // verdict, control and experiment charts.
    let report_path = format!("/applications/fly/executions/{}/canary/{}", bad["id"].as_str().unwrap(), analysis["id"].as_str().unwrap());
    let report = app.client.get(app.url(&report_path)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(report.status(), 200);
    let html = report.text().await.unwrap();
    for expected in ["Score over time", "error ratio: control and experiment", "High", "<svg"] {
        assert!(html.contains(expected), "the report shows {expected:?}: {html}");
    }

    // The clean canary passes each of its three intervals.
    assert_eq!(good["status"], "SUCCEEDED", "{good:#}");
    let analysis = stage(&good, "Canary Analysis");
    assert_eq!(analysis["context"]["canaryScores"], json!([100.0, 100.0, 100.0]), "{analysis:#}");
    assert_eq!(analysis["outputs"]["overallScore"], json!(100.0));
    let intervals = analysis["context"]["intervals"].as_array().unwrap();
    assert!(intervals.iter().all(|interval| interval["metrics"][0]["classification"] == "Pass"), "{analysis:#}");
    // Each interval reads from the analysis' start (no lookback): later windows are longer.
    let span = |interval: &Value| interval["experimentEnd"].as_i64().unwrap() - interval["experimentStart"].as_i64().unwrap();
    assert_eq!((span(&intervals[0]), span(&intervals[2])), (6, 18));

    // What Prometheus was told: every instance, labelled for canary scopes.
    let targets: Vec<Value> = app.anonymous.get(app.url("/api/v1/metrics/targets")).bearer_auth(METRICS_TOKEN).send().await.unwrap().json().await.unwrap();
    let groups: std::collections::BTreeSet<String> = targets.iter().map(|target| target["labels"]["serverGroup"].as_str().unwrap().to_string()).collect();
    assert!(groups.contains("fly-canary-v000") && groups.contains("calm-baseline-v000"), "{targets:#?}");
    let bare = app.anonymous.get(app.url("/api/v1/metrics/targets")).header("authorization", METRICS_TOKEN).send().await.unwrap();
    assert_eq!(bare.status(), 200, "the bare token, as Prometheus 2.42 sends it without `type: Bearer`");
    let one = targets.iter().find(|target| target["labels"]["serverGroup"] == "fly-canary-v000").unwrap();
    assert_eq!((one["labels"]["application"].as_str(), one["labels"]["cluster"].as_str(), one["labels"]["version"].as_str()), (Some("fly"), Some("fly-canary"), Some("v2")));

    // A user sees the instances of the applications they may read, and no others.
    let guarded = json!({"READ": ["ops"], "WRITE": ["ops"], "EXECUTE": ["ops"]});
    assert_eq!(app.client.put(app.url("/api/v1/applications/fly/permissions")).json(&guarded).send().await.unwrap().status(), 200);
    let stranger = app.user_client("stranger", &[]).await;
    let seen: Vec<Value> = stranger.get(app.url("/api/v1/metrics/targets")).send().await.unwrap().json().await.unwrap();
    assert!(seen.iter().all(|target| target["labels"]["application"] != "fly"), "{seen:#?}");
    assert!(seen.iter().any(|target| target["labels"]["application"] == "calm"), "{seen:#?}");

    // The balancers' per-server-group series are on /metrics for the scraper, not for everyone.
    let public = app.anonymous.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!public.contains("gennaker_lb_requests"), "{public}");
    let scraped = app.anonymous.get(app.url("/metrics")).bearer_auth(METRICS_TOKEN).send().await.unwrap().text().await.unwrap();
    let canary_errors = scraped.lines().find(|line| line.starts_with("gennaker_lb_requests_total{") && line.contains("serverGroup=\"fly-canary-v000\"") && line.contains("code=\"500\""));
    assert!(canary_errors.is_some_and(|line| line.contains("application=\"fly\"") && line.contains("cluster=\"fly-canary\"")), "{scraped}");
    assert!(scraped.contains("gennaker_lb_request_duration_seconds_bucket{loadBalancer=\"calm-web\""), "{scraped}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_stage_is_checked_when_saved_and_when_it_runs() {
    let app = spawn_app_with(Db::Sqlite, |_| {}).await;
    app.create_application("shop").await;
    let with_canary = |config: Value| json!({"name": "canary", "stages": [{"refId": "1", "type": "kayentaCanary", "name": "Canary", "canaryConfig": config}]});
    let response = app.post_json("/api/v1/applications/shop/pipelines", &with_canary(json!({"canaryConfigId": "c", "lifetimeDuration": "an hour",
        "scopes": [{"controlScope": "a", "experimentScope": "b"}]}))).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("canaryConfig.lifetimeDuration"));

    // A configuration of another application cannot be used; a missing one is named.
    app.create_application("other").await;
    let config = save_config(&app, "other").await;
    let account = json!({"cloudProvider": "prometheus", "prometheus": {"baseUrl": "http://127.0.0.1:9"}});
    assert!(app.client.put(app.url("/api/v1/clouds/accounts/prometheus")).json(&account).send().await.unwrap().status().is_success());
    for (id, expected) in [(config.as_str(), "belongs to other, not to application shop"), ("missing", "canary configuration \"missing\" not found")] {
        let pipeline = with_canary(json!({"canaryConfigId": id, "lifetimeDuration": "PT1S", "metricsAccountName": "prometheus",
            "scopes": [{"controlScope": "shop-a-v000", "experimentScope": "shop-b-v000"}]}));
        let execution = finished_within(&app, &start(&app, "shop", &pipeline).await, 30).await;
        assert_eq!(execution["status"], "TERMINAL");
        let error = stage(&execution, "Canary")["error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains(expected), "{expected}: {execution:#}");
    }

    // Prometheus not answering is retried, then reported, without failing at once.
    let mine = save_config(&app, "shop").await;
    let pipeline = with_canary(json!({"canaryConfigId": mine, "lifetimeDuration": "PT1S", "metricsAccountName": "prometheus",
        "scopes": [{"controlScope": "shop-a-v000", "experimentScope": "shop-b-v000"}]}));
    let path = start(&app, "shop", &pipeline).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let execution: Value = app.get(&path).await.json().await.unwrap();
        let canary = stage(&execution, "Canary");
        if let Some(fault) = canary["context"]["canaryFault"].as_str() {
            assert!(fault.contains("127.0.0.1:9"), "{fault}");
            assert_eq!(canary["status"], "RUNNING");
            break;
        }
        assert!(Instant::now() < deadline, "no fault noted: {execution:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Answers through the balancer until stopped, by the version that answered: (version, ok).
/// A request no instance answered counts as version "none".
fn load_by_version(port: u16) -> (tokio::task::JoinHandle<Vec<(String, bool)>>, tokio::sync::watch::Sender<bool>) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(async move {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let mut seen = Vec::new();
        while !*stopped.borrow() {
            let batch = (0..5).map(|_| client.get(format!("http://127.0.0.1:{port}/")).header("accept", "application/json").send());
            for answer in futures_util::future::join_all(batch).await {
                let Ok(answer) = answer else {
                    seen.push(("none".to_string(), false));
                    continue;
                };
                let ok = answer.status().is_success();
                let body: Value = answer.json().await.unwrap_or_default();
                seen.push((body["version"].as_str().unwrap_or("none").to_string(), ok));
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        seen
    });
    (handle, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_strategy_shifts_traffic_by_weight_rolls_a_bad_version_back_and_promotes_a_good_one() {
    let token_file = std::env::temp_dir().join(format!("gennaker-metrics-token-{}", free_port()));
    std::fs::write(&token_file, METRICS_TOKEN).unwrap();
    let token_path = token_file.clone();
    let app = spawn_app_with(Db::Sqlite, move |config| config.metrics_token_file = Some(token_path)).await;
    let prometheus = Prometheus::start(&[ScrapeJob::HttpSd { name: "gennaker-instances".into(), url: app.url("/api/v1/metrics/targets"), token_file }]).await;
    let account = json!({"cloudProvider": "prometheus", "prometheus": {"baseUrl": prometheus.url}});
    assert!(app.client.put(app.url("/api/v1/clouds/accounts/prometheus")).json(&account).send().await.unwrap().status().is_success());
    app.create_application("roll").await;
    let port = free_port();
    create_balancer(&app, "roll", port).await;
    let config = save_config(&app, "roll").await;

    let mut cluster = deploy("roll", "web", "${parameters.version}", 0);
    cluster["artifact"]["command"] = json!([env!("CARGO_BIN_EXE_gennaker"), "demo-app", "--version", "${parameters.version}", "--fail-percent", "${parameters.failPercent}"]);
    cluster["strategy"] = json!("canary");
    cluster["canaryCapacity"] = json!(1);
    cluster["canaryAnalysis"] = json!({
        "steps": [{"setWeight": 20}, {"analysis": {}}, {"setWeight": 40}, {"analysis": {}}],
        "analysis": {"canaryConfigId": config, "metricsAccountName": "prometheus", "lifetimeDuration": "PT6S",
            "beginCanaryAnalysisAfterMins": "4s", "scoreThresholds": {"pass": "75", "marginal": "50"}, "scopes": [{"step": "1"}]}});
    let pipeline = json!({"name": "release", "parameterConfig": [{"name": "version", "default": "v1"}, {"name": "failPercent", "default": "0"}],
        "stages": [{"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [cluster]}]});
    let saved = app.post_json("/api/v1/applications/roll/pipelines", &pipeline).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let saved: Value = saved.json().await.unwrap();
    let run = async |parameters: Value| {
        let path = format!("/api/v1/applications/roll/pipelines/{}/executions", saved["id"].as_str().unwrap());
        let response = app.post_json(&path, &json!({"parameters": parameters})).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let started: Value = response.json().await.unwrap();
        finished_within(&app, &format!("/api/v1/executions/{}", started["id"].as_str().unwrap()), 120).await
    };

    // The first release has nothing to compare with: it is deployed as is.
    let first = run(json!({"version": "v1"})).await;
    assert_eq!(first["status"], "SUCCEEDED", "{first:#}");

    // A canary failing a fifth of its requests: judged at 20%, rolled back; only the canary's
    // own answers ever failed.
    let (load, stop) = load_by_version(port);
    let bad = run(json!({"version": "v2", "failPercent": "20"})).await;
    let _ = stop.send(true);
    let seen = load.await.unwrap();
    assert_eq!(bad["status"], "TERMINAL", "{bad:#}");
    let deploy_stage = stage(&bad, "Deploy");
    let error = deploy_stage["error"].as_str().unwrap_or_default();
    assert!(error.contains("canary analysis at 20% failed") && error.contains("rolled back: traffic back to roll-web-v000"), "{error}");
    assert!(error.contains("destroyed roll-web-v001") && error.contains("destroyed roll-web-baseline-v000"), "{error}");
    let failures: Vec<&(String, bool)> = seen.iter().filter(|(_, ok)| !ok).collect();
    assert!(!failures.is_empty() && failures.iter().all(|(version, _)| version == "v2"), "only the canary fails: {failures:?}");
    let canary_share = seen.iter().filter(|(version, _)| version == "v2").count() as f64 / seen.len() as f64;
    assert!(canary_share > 0.05 && canary_share < 0.35, "the canary took about its 20%: {canary_share}");
    let rollout = &deploy_stage["context"]["deployProgress"][0]["rollout"];
    assert_eq!(rollout["analyses"][0]["weight"], 20, "{rollout:#}");
    assert_eq!(rollout["analyses"].as_array().unwrap().len(), 1, "stopped at the first analysis: {rollout:#}");
    let rolled_back = rollout["rolledBackAt"].as_i64().unwrap();
    println!(
        "bad canary: rolled back {} ms after the deploy stage started ({} requests, {:.1}% to the canary, {} failed)",
        rolled_back - deploy_stage["startTime"].as_i64().unwrap(),
        seen.len(),
        canary_share * 100.0,
        failures.len()
    );
    // The deploy's analyses have a report too.
    let report_path = format!("/applications/roll/executions/{}/canary/{}", bad["id"].as_str().unwrap(), deploy_stage["id"].as_str().unwrap());
    let html = app.client.get(app.url(&report_path)).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Score over time") && html.contains("error ratio: control and experiment") && !html.contains("has no canary analysis"), "{html}");
    let groups: Vec<Value> = app.get("/api/v1/applications/roll/clusters").await.json().await.unwrap();
    let names: Vec<String> = groups.iter().flat_map(|region| region["clusters"].as_array().unwrap().iter()).flat_map(|cluster| cluster["serverGroups"].as_array().unwrap().iter()).map(|group| group["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["roll-web-v000"], "production alone serves again");

    // A clean canary passes both steps and is promoted: it serves everything, at full size.
    let (load, stop) = load_by_version(port);
    let good = run(json!({"version": "v3"})).await;
    let _ = stop.send(true);
    let seen = load.await.unwrap();
    assert_eq!(good["status"], "SUCCEEDED", "{good:#}");
    assert!(seen.iter().all(|(_, ok)| *ok), "no request failed while the good canary rolled out");
    let rollout = &stage(&good, "Deploy")["context"]["deployProgress"][0]["rollout"];
    let weights: Vec<u64> = rollout["analyses"].as_array().unwrap().iter().map(|analysis| analysis["weight"].as_u64().unwrap()).collect();
    assert_eq!(weights, [20, 40], "{rollout:#}");
    let client = reqwest::Client::new();
    for _ in 0..6 {
        let answer: Value = client.get(format!("http://127.0.0.1:{port}/")).header("accept", "application/json").send().await.unwrap().json().await.unwrap();
        assert_eq!(answer["version"], "v3");
    }
    let promoted = stage(&good, "Deploy")["context"]["deployProgress"][0]["serverGroup"].as_str().unwrap().to_string();
    let detail: Value = app.get(&format!("/api/v1/applications/roll/serverGroups/local/local/{promoted}")).await.json().await.unwrap();
    assert_eq!((detail["capacity"]["desired"].as_u64(), detail["disabled"].as_bool()), (Some(2), Some(false)), "{detail:#}");
    let groups: Vec<Value> = app.get("/api/v1/applications/roll/clusters").await.json().await.unwrap();
    let serving: Vec<(String, bool)> = groups.iter().flat_map(|region| region["clusters"].as_array().unwrap().iter()).flat_map(|cluster| cluster["serverGroups"].as_array().unwrap().iter())
        .map(|group| (group["name"].as_str().unwrap().to_string(), group["disabled"].as_bool().unwrap())).collect();
    assert_eq!(serving, [("roll-web-v000".to_string(), true), (promoted, false)], "production disabled, the baseline gone");
}

/// A `kayentaCanary` stage from a real Spinnaker pipeline (the cloud-migration fixture, saved
/// as its author's Deck wrote it) runs unchanged: only its canary configuration and metrics
/// account must exist here. Its real-time analysis waits its three minutes before the first
/// (and only) interval, then would read Prometheus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_world_kayenta_canary_stage_runs_unchanged() {
    let app = spawn_app_with(Db::Sqlite, |_| {}).await;
    app.create_application("migrate").await;
    let fixture: Value = serde_json::from_str(include_str!("../fixtures/spinnaker/34-cloud-migration-kayenta-canary.json")).unwrap();
    let mut written = fixture["stages"].as_array().unwrap().iter().find(|stage| stage["type"] == "kayentaCanary").unwrap().clone();
    written["requisiteStageRefIds"] = json!([]);
    let config_id = written["canaryConfig"]["canaryConfigId"].as_str().unwrap().to_string();
    let config = json!({"id": config_id, "name": "migration", "applications": ["migrate"],
        "metrics": [{"name": "error ratio", "query": {"type": "prometheus", "customInlineTemplate": ERROR_RATIO}, "groups": ["Errors"]}],
        "classifier": {"groupWeights": {"Errors": 100}}});
    let saved = app.post_json("/api/v1/applications/migrate/canaryConfigs", &config).await;
    assert!(saved.status().is_success(), "{}", saved.text().await.unwrap());
    let account = json!({"cloudProvider": "prometheus", "prometheus": {"baseUrl": "http://127.0.0.1:9"}});
    assert!(app.client.put(app.url("/api/v1/clouds/accounts/metrics")).json(&account).send().await.unwrap().status().is_success());

    let path = start(&app, "migrate", &json!({"name": "migration", "stages": [written]})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let execution = loop {
        let execution: Value = app.get(&path).await.json().await.unwrap();
        if stage(&execution, "10% Canary Analysis")["context"]["nextIntervalEndIso"].is_string() {
            break execution;
        }
        assert!(Instant::now() < deadline, "the analysis never scheduled its interval: {execution:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let canary = stage(&execution, "10% Canary Analysis");
    assert_eq!(canary["status"], "RUNNING", "{canary:#}");
    let next = chrono::DateTime::parse_from_rfc3339(canary["context"]["nextIntervalEndIso"].as_str().unwrap()).unwrap().timestamp();
    let started = canary["startTime"].as_i64().unwrap() / 1000;
    assert_eq!(next - started, 180, "PT0H3M in one interval of 3 minutes, no warm-up");
    let canceled = app.client.put(app.url(&format!("{path}/cancel"))).send().await.unwrap();
    assert!(canceled.status().is_success());
    assert_eq!(finished_within(&app, &path, 20).await["status"], "CANCELED");
}

/// A metrics account is read only by those allowed to: checked when a pipeline naming it is
/// saved, and again when the analysis runs (an account written as an expression is only known
/// then), as the run's user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_account_is_read_only_by_whoever_may() {
    let app = spawn_app_with(Db::Sqlite, |_| {}).await;
    app.create_application("shop").await;
    let account = json!({"cloudProvider": "prometheus", "prometheus": {"baseUrl": "http://127.0.0.1:9"}});
    assert!(app.client.put(app.url("/api/v1/clouds/accounts/prometheus")).json(&account).send().await.unwrap().status().is_success());
    let grant = app.client.put(app.url("/api/v1/accounts/prometheus/permissions")).json(&json!({"READ": ["sre"], "WRITE": ["sre"]})).send().await.unwrap();
    assert_eq!(grant.status(), 200);
    let config = save_config(&app, "shop").await;
    let pipeline = |name: &str, account: &str| json!({"name": name, "parameterConfig": [{"name": "account", "default": "prometheus"}],
        "stages": [{"refId": "1", "type": "kayentaCanary", "name": "Canary", "canaryConfig": {"canaryConfigId": config, "lifetimeDuration": "PT1S",
            "metricsAccountName": account, "scopes": [{"controlScope": "shop-a-v000", "experimentScope": "shop-b-v000"}]}}]});

    let dave = app.user_client("dave", &["dev"]).await;
    let refused = dave.post(app.url("/api/v1/applications/shop/pipelines")).json(&pipeline("named", "prometheus")).send().await.unwrap();
    assert_eq!(refused.status(), 403, "{}", refused.text().await.unwrap());
    let sara = app.user_client("sara", &["sre"]).await;
    let allowed = sara.post(app.url("/api/v1/applications/shop/pipelines")).json(&pipeline("named", "prometheus")).send().await.unwrap();
    assert_eq!(allowed.status(), 200, "{}", allowed.text().await.unwrap());

    // Written as an expression, the account could be any: saving needs READ on every account,
    // and it is checked again when the stage runs, as the run's user (dave, who may start the
    // pipeline sara saved).
    let refused = dave.post(app.url("/api/v1/applications/shop/pipelines")).json(&pipeline("indirect", "${parameters.account}")).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let saved = sara.post(app.url("/api/v1/applications/shop/pipelines")).json(&pipeline("indirect", "${parameters.account}")).send().await.unwrap();
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let started = dave.post(app.url("/api/v1/applications/shop/pipelines/indirect/executions")).json(&json!({})).send().await.unwrap();
    assert_eq!(started.status(), 201, "{}", started.text().await.unwrap());
    let started: Value = started.json().await.unwrap();
    let execution = finished_within(&app, &format!("/api/v1/executions/{}", started["id"].as_str().unwrap()), 30).await;
    assert_eq!(execution["status"], "TERMINAL");
    let error = stage(&execution, "Canary")["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("prometheus"), "refused for the account: {error}");
}
