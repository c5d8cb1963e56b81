//! `gennaker demo-app`: the small HTTP service the local cloud deploys by default, so
//! deployment strategies can be shown and tested for real. It answers `/` with its version and
//! colour (JSON for API clients, a coloured page for browsers), `/health`, and `/metrics` in
//! Prometheus text; flags make it slow, fail a share of requests, or report unhealthy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use clap::Args;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde_json::json;

#[derive(Debug, Clone, Args)]
pub struct DemoAppConfig {
    /// Port on 127.0.0.1 (the local cloud sets PORT); 0 picks a free one.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// The version it reports, e.g. v2.
    #[arg(long = "version", env = "DEMO_VERSION", default_value = "v1")]
    pub app_version: String,
    /// Its colour on the page (any CSS colour).
    #[arg(long, env = "DEMO_COLOR", default_value = "steelblue")]
    pub color: String,
    /// Added to every answer, in milliseconds.
    #[arg(long, env = "DEMO_SLOW_MS", default_value_t = 0)]
    pub slow_ms: u64,
    /// Share of requests to `/` answered 500, 0 to 100 (every n-th, deterministic).
    #[arg(long, env = "DEMO_FAIL_PERCENT", default_value_t = 0)]
    pub fail_percent: u8,
    /// Report unhealthy on `/health` (503).
    #[arg(long, env = "DEMO_UNHEALTHY", default_value_t = false)]
    pub unhealthy: bool,
    /// The instance name the local cloud gives it.
    #[arg(long, env = "GENNAKER_INSTANCE", default_value = "demo")]
    pub instance: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: u16,
}

struct Demo {
    config: DemoAppConfig,
    served: AtomicU64,
    registry: Registry,
    requests: Family<CodeLabel, Counter>,
    latency: Histogram,
}

pub async fn run(config: DemoAppConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
    // One line on stdout so whoever started it (tests, the local cloud) learns the port.
    println!("demo-app {} listening on {}", config.app_version, listener.local_addr()?);
    let mut registry = Registry::with_prefix("demo");
    let requests = Family::<CodeLabel, Counter>::default();
    registry.register("requests", "Requests to /, by status code", requests.clone());
    let latency = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
    registry.register("request_duration_seconds", "Latency of /", latency.clone());
    let demo = Arc::new(Demo { config, served: AtomicU64::new(0), registry, requests, latency });
    let app = Router::new()
        .route("/", get(root))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(demo);
    axum::serve(listener, app).with_graceful_shutdown(crate::startup::shutdown_signal()).await?;
    Ok(())
}

async fn root(State(demo): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let started = Instant::now();
    if demo.config.slow_ms > 0 {
        tokio::time::sleep(Duration::from_millis(demo.config.slow_ms)).await;
    }
    let n = demo.served.fetch_add(1, Ordering::Relaxed);
    let percent = u64::from(demo.config.fail_percent.min(100));
    // Fail requests n where (n * percent) crosses a multiple of 100: exactly percent% of them.
    let fails = percent > 0 && ((n + 1) * percent / 100) > (n * percent / 100);
    let code = if fails { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
    demo.requests.get_or_create(&CodeLabel { code: code.as_u16() }).inc();
    demo.latency.observe(started.elapsed().as_secs_f64());
    let body = json!({"version": demo.config.app_version, "color": demo.config.color, "instance": demo.config.instance, "ok": !fails});
    let wants_html = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if wants_html {
        let page = format!(
            "<!doctype html><title>{v}</title><body style=\"margin:0;font:2rem system-ui;display:grid;place-items:center;height:100vh;background:{c};color:white\"><main><h1>{v}</h1><p>{i}</p></main></body>",
            v = html_escape(&demo.config.app_version),
            c = html_escape(&demo.config.color),
            i = html_escape(&demo.config.instance),
        );
        return (code, Html(page)).into_response();
    }
    (code, axum::Json(body)).into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn health(State(demo): State<Arc<Demo>>) -> impl IntoResponse {
    if demo.config.unhealthy {
        (StatusCode::SERVICE_UNAVAILABLE, "unhealthy")
    } else {
        (StatusCode::OK, "ok")
    }
}

async fn metrics(State(demo): State<Arc<Demo>>) -> impl IntoResponse {
    let mut text = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut text, &demo.registry);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
}
