//! The demo with the real binary, as the README's run command starts it: on a first start the
//! demo application serves v1 behind its balancer; its red/black pipeline moves it to v2; a
//! restart of gennaker keeps every server group, balancer and security group, and serving
//! resumes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::binary::{sign_in, start_binary, stop_with_sigterm};
use crate::helpers::free_port;

/// Waits until the balancer answers `version`.
async fn serves(port: u16, version: &str) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.get(format!("http://127.0.0.1:{port}/")).send().await {
            if let Ok(body) = response.json::<Value>().await {
                if body["version"] == version {
                    return;
                }
            }
        }
        assert!(Instant::now() < deadline, "127.0.0.1:{port} never answered {version}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts a demo pipeline (by name) with `parameters` as the signed-in admin and waits until
/// it ends; the execution as it ended.
async fn run_to_end(client: &reqwest::Client, address: &str, cookie: &str, pipeline: &str, parameters: Value, seconds: u64) -> Value {
    let call = |method: reqwest::Method, path: &str| client.request(method, format!("{address}{path}")).header("cookie", cookie).header("origin", address);
    let path = format!("/api/v1/applications/demo/pipelines/{}/executions", pipeline.replace(' ', "%20"));
    let started: Value = call(reqwest::Method::POST, &path).json(&json!({"parameters": parameters})).send().await.unwrap().json().await.unwrap();
    let id = started["id"].as_str().unwrap_or_else(|| panic!("{started}")).to_string();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let execution: Value = call(reqwest::Method::GET, &format!("/api/v1/executions/{id}")).send().await.unwrap().json().await.unwrap();
        if !["NOT_STARTED", "RUNNING"].contains(&execution["status"].as_str().unwrap()) {
            return execution;
        }
        assert!(Instant::now() < deadline, "{pipeline} did not finish: {execution:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_deploys_v2_and_everything_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("gennaker-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("sqlite://{}/demo.db", dir.display());
    let port = free_port().to_string();
    let env = [("GENNAKER_DEMO", "true"), ("GENNAKER_DEMO_PORT", port.as_str())];
    let port: u16 = port.parse().unwrap();

    let running = start_binary(&database, &env);
    serves(port, "v1").await;
    let client = reqwest::Client::new();
    let address = running.address.clone();
    let cookie = sign_in(&client, &address, "admin").await;
    let call = |method: reqwest::Method, path: &str| {
        client.request(method, format!("{address}{path}")).header("cookie", &cookie).header("origin", &address)
    };
    let execution = run_to_end(&client, &address, &cookie, "Deploy demo", json!({"version": "v2"}), 60).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution:#}");
    serves(port, "v2").await;
    let rule = json!({"application": "demo", "stack": "lan", "ingress": [{"cidr": "127.0.0.0/8", "protocol": "tcp", "startPort": 1, "endPort": 65535}]});
    assert_eq!(call(reqwest::Method::POST, "/api/v1/securityGroups").json(&rule).send().await.unwrap().status(), 200);

    let stopped = stop_with_sigterm(running);
    assert!(reqwest::get(format!("http://127.0.0.1:{port}/")).await.is_err(), "the balancer stops with gennaker");
    drop(stopped);

    // Same database, demo flag still on: nothing is created twice, everything comes back.
    let running = start_binary(&database, &env);
    serves(port, "v2").await;
    let address = running.address.clone();
    let cookie = sign_in(&client, &address, "admin").await;
    let get = |path: &str| client.get(format!("{address}{path}")).header("cookie", &cookie).send();
    let view: Vec<Value> = get("/api/v1/applications/demo/clusters").await.unwrap().json().await.unwrap();
    let groups: Vec<(String, bool)> = view[0]["clusters"][0]["serverGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| (group["name"].as_str().unwrap().to_string(), group["disabled"].as_bool().unwrap()))
        .collect();
    assert_eq!(groups, [("demo-web-v000".to_string(), true), ("demo-web-v001".to_string(), false)]);
    let balancers: Vec<Value> = get("/api/v1/applications/demo/loadBalancers").await.unwrap().json().await.unwrap();
    assert_eq!(balancers.len(), 1);
    let security_groups: Vec<Value> = get("/api/v1/applications/demo/securityGroups").await.unwrap().json().await.unwrap();
    assert_eq!(security_groups[0]["name"], "demo-lan");
    let pipelines: Vec<Value> = get("/api/v1/applications/demo/pipelines").await.unwrap().json().await.unwrap();
    let names: Vec<&str> = pipelines.iter().map(|pipeline| pipeline["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Canary demo", "Deploy demo"], "the demo pipelines are not created twice");
    let configs: Vec<Value> = get("/api/v1/applications/demo/canaryConfigs").await.unwrap().json().await.unwrap();
    assert_eq!(configs.len(), 1, "the demo's canary configuration: {configs:?}");
    assert_eq!(configs[0]["id"], "demo-errors");
    drop(stop_with_sigterm(running));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The canary demo as the README tells a newcomer to run it: `scripts/run`'s steady load
/// (`--demo-load`) is the only traffic, a real Prometheus scrapes the demo's instances, and the
/// `Canary demo` pipeline with a version failing a fifth of its requests is judged at 20% and
/// rolled back by itself; the demo balancer serves the old version alone again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_demo_rolls_a_bad_version_back_under_its_own_load() {
    let dir = std::env::temp_dir().join(format!("gennaker-canary-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("metrics-token");
    std::fs::write(&token_file, "demo-metrics-token-for-the-canary-test\n").unwrap();
    let database = format!("sqlite://{}/demo.db", dir.display());
    let port = free_port().to_string();
    let token = token_file.display().to_string();
    let env = [("GENNAKER_DEMO", "true"), ("GENNAKER_DEMO_PORT", port.as_str()), ("GENNAKER_DEMO_LOAD", "20"), ("GENNAKER_METRICS_TOKEN_FILE", token.as_str()),
        // Prometheus listens on this machine, as `scripts/run` allows it.
        ("GENNAKER_OUTBOUND_ALLOW", "http://127.0.0.1")];
    let port: u16 = port.parse().unwrap();
    let running = start_binary(&database, &env);
    serves(port, "v1").await;
    let prometheus = crate::prometheus::Prometheus::start(&[crate::prometheus::ScrapeJob::HttpSd {
        name: "gennaker-instances".into(),
        url: format!("{}/api/v1/metrics/targets", running.address),
        token_file: token_file.clone(),
    }])
    .await;
    let client = reqwest::Client::new();
    let address = running.address.clone();
    let cookie = sign_in(&client, &address, "admin").await;
    let call = |method: reqwest::Method, path: &str| {
        client.request(method, format!("{address}{path}")).header("cookie", &cookie).header("origin", &address)
    };
    let account = json!({"cloudProvider": "prometheus", "prometheus": {"baseUrl": prometheus.url}});
    let added = call(reqwest::Method::PUT, "/api/v1/clouds/accounts/prometheus").json(&account).send().await.unwrap();
    assert!(added.status().is_success(), "{}", added.text().await.unwrap());

    let execution = run_to_end(&client, &address, &cookie, "Canary demo", json!({"version": "v9", "failPercent": "20"}), 150).await;
    assert_eq!(execution["status"], "TERMINAL", "{execution:#}");
    let deploy = &execution["stages"][0];
    let error = deploy["error"].as_str().unwrap_or_default();
    assert!(error.contains("canary analysis at 20% failed") && error.contains("rolled back: traffic back to demo-web-v000"), "{error}");
    // Judged on the demo load's requests: the canary and the baseline both answered some.
    let interval = &deploy["context"]["deployProgress"][0]["rollout"]["analyses"][0]["intervals"][0];
    let metric = &interval["metrics"][0];
    let points = |side: &str| metric[side].as_array().map_or(0, Vec::len);
    assert!(points("controlPoints") > 0 && points("experimentPoints") > 0, "the judge saw traffic on both sides: {interval:#}");
    serves(port, "v1").await;
    drop(prometheus);
    drop(stop_with_sigterm(running));
    let _ = std::fs::remove_dir_all(&dir);
}
