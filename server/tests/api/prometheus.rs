//! A real Prometheus for the canary-analysis tests: Debian's `prometheus` 2.42 (installed by
//! `scripts/prometheus`, which `scripts/setup` runs), each test starting its own on a free port
//! of 127.0.0.1 with its own config and storage in a temporary folder, scraping every second.
//! Also the test that the harness itself works against a real `gennaker demo-app`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{binary, free_port};

/// What a test's Prometheus scrapes; `name` becomes the `job` label.
pub enum ScrapeJob {
    /// Fixed `host:port` targets, scraped on `/metrics`.
    Static { name: String, targets: Vec<String> },
    /// Targets from an HTTP service discovery endpoint (gennaker's `/api/v1/metrics/targets`),
    /// asked every second with `Authorization: Bearer <content of token_file>`; the targets
    /// themselves are scraped without it.
    HttpSd { name: String, url: String, token_file: PathBuf },
}

/// One running Prometheus; killed (and waited for), its folder removed, when dropped.
pub struct Prometheus {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    child: Child,
    dir: PathBuf,
    http: reqwest::Client,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// `prometheus` on PATH, else Debian's /usr/bin/prometheus.
fn prometheus_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("prometheus")).find(|candidate| candidate.is_file()));
    let binary = on_path.unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus"));
    assert!(binary.is_file(), "no prometheus on PATH nor at /usr/bin/prometheus: run scripts/prometheus (Debian's prometheus package)");
    binary
}

/// The config file: JSON, which Prometheus's YAML parser reads as it is.
fn config(jobs: &[ScrapeJob]) -> Value {
    let scrape_configs: Vec<Value> = jobs
        .iter()
        .map(|job| match job {
            ScrapeJob::Static { name, targets } => json!({"job_name": name, "static_configs": [{"targets": targets}]}),
            ScrapeJob::HttpSd { name, url, token_file } => {
                // Prometheus reads a relative path from the config file's folder: make it absolute.
                let token_file = std::path::absolute(token_file).unwrap();
                // `type` spelled out: Debian's 2.42 sends a bare `Authorization: <token>` from
                // http_sd_configs without it (scrape configs do default to Bearer).
                json!({"job_name": name, "http_sd_configs": [{"url": url, "refresh_interval": "1s",
                    "authorization": {"type": "Bearer", "credentials_file": token_file.display().to_string()}}]})
            }
        })
        .collect();
    json!({"global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}, "scrape_configs": scrape_configs})
}

fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Prometheus {
    /// Starts Debian's prometheus on a free 127.0.0.1 port with the given scrape jobs and waits
    /// until `/-/ready` answers; panics with a clear message (naming scripts/prometheus) when
    /// the binary is missing, and with its log when it does not become ready.
    pub async fn start(jobs: &[ScrapeJob]) -> Prometheus {
        let binary = prometheus_binary();
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("gennaker-prometheus-{}-{port}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).unwrap();
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, serde_json::to_string_pretty(&config(jobs)).unwrap()).unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e} (scripts/prometheus installs it)", binary.display()));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let mut prometheus = Prometheus { url: format!("http://127.0.0.1:{port}"), child, dir, http };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = prometheus.http.get(format!("{}/-/ready", prometheus.url)).send().await;
            if ready.is_ok_and(|response| response.status().is_success()) {
                return prometheus;
            }
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                panic!("prometheus exited ({status}) before it was ready; its log ends:\n{}", log_tail(&prometheus.dir));
            }
            assert!(Instant::now() < deadline, "prometheus was not ready on {} within 30 s; its log ends:\n{}", prometheus.url, log_tail(&prometheus.dir));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The `data` of an instant query (`/api/v1/query`); panics when Prometheus refuses it.
    async fn query_data(&self, promql: &str) -> Value {
        let response = self.http.get(format!("{}/api/v1/query", self.url)).query(&[("query", promql)]).send().await.unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "success", "query {promql}: {body}");
        body["data"].clone()
    }

    /// Runs an instant query and returns the vector result as (labels, value) pairs.
    pub async fn query(&self, promql: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let data = self.query_data(promql).await;
        assert_eq!(data["resultType"], "vector", "query {promql} is not a vector: {data}");
        data["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sample| {
                let labels = sample["metric"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
                let value = sample["value"][1].as_str().unwrap().parse::<f64>().unwrap();
                (labels, value)
            })
            .collect()
    }

    /// Waits (up to 60 s, polling) until `promql` returns at least one series; panics with the
    /// last answer and the scrape targets' state otherwise.
    pub async fn wait_for_series(&self, promql: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let data = self.query_data(promql).await;
            if data["result"].as_array().is_some_and(|result| !result.is_empty()) {
                return;
            }
            if Instant::now() >= deadline {
                let targets: Value = match self.http.get(format!("{}/api/v1/targets", self.url)).send().await {
                    Ok(response) => response.json().await.unwrap_or(Value::Null),
                    Err(error) => Value::String(error.to_string()),
                };
                let targets: Vec<Value> = targets["data"]["activeTargets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| json!({"job": t["labels"]["job"], "url": t["scrapeUrl"], "health": t["health"], "lastError": t["lastError"]}))
                    .collect();
                panic!(
                    "no series for {promql} within 60 s; last answer: {data}; targets: {}; prometheus's log ends:\n{}",
                    Value::from(targets),
                    log_tail(&self.dir)
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// `gennaker demo-app` as a process of its own, killed when dropped.
struct DemoApp {
    child: Child,
    /// `127.0.0.1:<port>`
    address: String,
}

impl Drop for DemoApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn demo_app(args: &[&str]) -> DemoApp {
    let mut child = Command::new(binary()).args(["demo-app", "--port", "0"]).args(args).stdout(Stdio::piped()).spawn().unwrap();
    // Its one line: `demo-app <version> listening on <addr>`.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address = line.trim().rsplit(' ').next().unwrap().to_string();
    DemoApp { child, address }
}

#[tokio::test]
async fn prometheus_scrapes_the_demo_app_by_status_code() {
    // Every 4th request to / fails: 20 requests are 15 answered 200 and 5 answered 500.
    let demo = demo_app(&["--fail-percent", "25"]);
    let prometheus = Prometheus::start(&[ScrapeJob::Static { name: "demo".into(), targets: vec![demo.address.clone()] }]).await;
    let client = reqwest::Client::new();
    for _ in 0..20 {
        client.get(format!("http://{}/", demo.address)).send().await.unwrap();
    }
    prometheus.wait_for_series(r#"demo_requests_total{job="demo",code="500"} >= 5"#).await;
    prometheus.wait_for_series(r#"demo_requests_total{job="demo",code="200"} >= 15"#).await;

    let mut samples = prometheus.query("demo_requests_total").await;
    samples.sort_by(|a, b| a.0["code"].cmp(&b.0["code"]));
    let seen: Vec<(&str, &str, &str, f64)> =
        samples.iter().map(|(labels, value)| (labels["code"].as_str(), labels["job"].as_str(), labels["instance"].as_str(), *value)).collect();
    assert_eq!(seen, [("200", "demo", demo.address.as_str(), 15.0), ("500", "demo", demo.address.as_str(), 5.0)]);
    assert!(samples.iter().all(|(labels, value)| labels["__name__"] == "demo_requests_total" && *value > 0.0));

    // The histogram arrives too, and PromQL over it answers.
    let latency = prometheus.query("sum(demo_request_duration_seconds_count)").await;
    assert_eq!(latency.len(), 1, "{latency:?}");
    assert_eq!(latency[0].1, 20.0);
}

#[tokio::test]
async fn prometheus_finds_targets_through_http_sd_with_the_token() {
    use axum::http::{HeaderMap, StatusCode};
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    let demo = demo_app(&[]);
    // A service discovery endpoint in gennaker's shape that answers only the token's bearer.
    let token = "a-scraper-token-of-32-characters";
    let (refused, target) = (Arc::new(AtomicUsize::new(0)), demo.address.clone());
    let sd = axum::Router::new().route(
        "/api/v1/metrics/targets",
        axum::routing::get({
            let refused = refused.clone();
            move |headers: HeaderMap| async move {
                if headers.get("authorization").and_then(|value| value.to_str().ok()) != Some(&format!("Bearer {token}")) {
                    refused.fetch_add(1, Ordering::Relaxed);
                    return Err(StatusCode::UNAUTHORIZED);
                }
                Ok(axum::Json(json!([{"targets": [target], "labels": {"application": "demo", "serverGroup": "demo-web-v001"}}])))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_url = format!("http://{}/api/v1/metrics/targets", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, sd).await.unwrap() });
    // Prometheus trims the file's surrounding whitespace, as gennaker does.
    let token_file = std::env::temp_dir().join(format!("gennaker-prometheus-token-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    struct Removed(PathBuf);
    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _removed = Removed(token_file.clone());

    let prometheus = Prometheus::start(&[ScrapeJob::HttpSd { name: "instances".into(), url: sd_url, token_file: token_file.clone() }]).await;
    reqwest::get(format!("http://{}/", demo.address)).await.unwrap();
    prometheus.wait_for_series(r#"demo_requests_total{job="instances",serverGroup="demo-web-v001",code="200"} > 0"#).await;
    let samples = prometheus.query(r#"demo_requests_total{job="instances"}"#).await;
    assert_eq!(samples.len(), 1, "{samples:?}");
    assert_eq!(samples[0].0["application"], "demo");
    assert_eq!(samples[0].0["instance"], demo.address);
    assert_eq!(refused.load(Ordering::Relaxed), 0, "Prometheus asked without the token");
}
