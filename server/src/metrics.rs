//! Prometheus metrics: request counts and latencies per route, served at `/metrics` in the
//! OpenMetrics text format; and, for the metrics scraper (`--metrics-token-file`) or an admin
//! only (they name applications), what each server group answered through the local cloud's
//! load balancers: `gennaker_lb_requests_total` by status code and the
//! `gennaker_lb_request_duration_seconds` histogram, labelled `loadBalancer`, `application`,
//! `cluster` and `serverGroup`.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("gennaker");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("http_request_duration_seconds", "HTTP request latency", durations.clone());
        let start_time = Gauge::<i64>::default();
        start_time.set(crate::store::now_millis() / 1000);
        registry.register("process_start_time_seconds", "Start time of the process", start_time);
        Self { registry, requests, durations }
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware: count and time every request by its route template (not its raw path, which
/// would make a label per application name).
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    // Only the methods HTTP defines: any other text would add a label value per request.
    let method = match request.method().as_str() {
        known @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => known.to_string(),
        _ => "OTHER".to_string(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    metrics.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status }).inc();
    metrics
        .durations
        .get_or_create(&RouteLabels { method, route })
        .observe(started.elapsed().as_secs_f64());
    response
}

pub async fn serve(
    State(metrics): State<Arc<Metrics>>,
    State(engine): State<crate::engine::Engine>,
    scraper: Option<axum::Extension<crate::http::metrics_sd::MetricsScraper>>,
    caller: Option<axum::Extension<app::model::auth::Caller>>,
) -> impl IntoResponse {
    let mut text = metrics.encode();
    if scraper.is_some() || caller.is_some_and(|caller| caller.admin) {
        let mut traffic = Vec::new();
        for provider in engine.clouds().providers() {
            traffic.extend(provider.load_balancer_traffic().await);
        }
        let end = text.rfind("# EOF").unwrap_or(text.len());
        text.truncate(end);
        text.push_str(&encode_traffic(&traffic));
        text.push_str("# EOF\n");
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
}

/// Label values escaped as the text format wants them.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The load balancers' per-server-group series in the OpenMetrics text format.
fn encode_traffic(traffic: &[(String, String, crate::cloud::local::balancer::GroupTraffic)]) -> String {
    use std::fmt::Write;
    use crate::cloud::local::balancer::LATENCY_BUCKETS;
    let mut text = String::new();
    let labels = |balancer: &str, group: &str| {
        let (application, cluster) = app::model::names::Name::parse(group)
            .map(|name| (name.cluster().application.clone(), name.cluster().to_string()))
            .unwrap_or_default();
        format!("loadBalancer=\"{}\",application=\"{}\",cluster=\"{}\",serverGroup=\"{}\"", label(balancer), label(&application), label(&cluster), label(group))
    };
    text.push_str("# HELP gennaker_lb_requests Requests the local cloud's load balancers answered, by server group and status.\n# TYPE gennaker_lb_requests counter\n");
    for (balancer, group, counts) in traffic {
        for (status, count) in &counts.by_status {
            let _ = writeln!(text, "gennaker_lb_requests_total{{{},code=\"{status}\"}} {count}", labels(balancer, group));
        }
    }
    text.push_str("# HELP gennaker_lb_request_duration_seconds Latency of the answers, by server group.\n# TYPE gennaker_lb_request_duration_seconds histogram\n");
    for (balancer, group, counts) in traffic {
        let labels = labels(balancer, group);
        let mut cumulative = 0;
        for (bound, count) in LATENCY_BUCKETS.iter().zip(counts.latency_buckets.iter()) {
            cumulative += count;
            let _ = writeln!(text, "gennaker_lb_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(text, "gennaker_lb_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", counts.count);
        let _ = writeln!(text, "gennaker_lb_request_duration_seconds_sum{{{labels}}} {}", counts.latency_sum);
        let _ = writeln!(text, "gennaker_lb_request_duration_seconds_count{{{labels}}} {}", counts.count);
    }
    text
}
