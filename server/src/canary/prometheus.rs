//! Metrics for canary analysis from a Prometheus (a `prometheus` metrics account), as Kayenta's
//! Prometheus metrics service asks for them: the query is built from the metric's query
//! settings and the scope, then read as a range (`/api/v1/query_range`) over the analysis
//! window. Calls go through the allow-listed outbound client, like every call gennaker makes
//! for users.
//!
//! How a query is built (Kayenta's `PrometheusMetricsService`):
//! - `customInlineTemplate` starting `PromQL:` is the whole query, with `${scope}`,
//!   `${location}` and the scope's `extendedScopeParams` filled in;
//! - otherwise `avg(metricName{filters}) by (groupByFields)`, where the filters are the inline
//!   template (without `PromQL:`) or `templates[customFilterTemplate]` filled in the same way,
//!   else `serverGroup="<scope>"` (the label gennaker's service discovery gives every local
//!   instance), plus the `labelBindings`.
//!
//! Departure from Kayenta: when a query answers several series for one scope, their values
//! are pooled into one sample (Kayenta pairs them by tags); write `by (...)`-free queries or
//! aggregate to get one series per scope.

use std::collections::BTreeMap;

use app::model::canary::{CanaryConfig, CanaryMetric};
use serde::Deserialize;

use crate::outbound::Outbound;

/// Points a range query may ask for (Prometheus refuses more than 11,000).
const MAX_POINTS: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("metric {metric}: {message}")]
    Query { metric: String, message: String },
    #[error("Prometheus at {url}: {message}")]
    Call { url: String, message: String },
}

/// What a scope's queries are filled in with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScopeValues {
    pub scope: String,
    pub location: String,
    pub extended: BTreeMap<String, String>,
}

impl ScopeValues {
    /// Replaces `${scope}`, `${location}` and `${<extended param>}`; values are escaped for a
    /// PromQL string literal so a scope cannot end the literal it is put in.
    fn fill(&self, template: &str) -> String {
        let escape = |value: &str| value.replace('\\', "\\\\").replace('"', "\\\"");
        let mut filled = template.replace("${scope}", &escape(&self.scope)).replace("${location}", &escape(&self.location));
        for (name, value) in &self.extended {
            filled = filled.replace(&format!("${{{name}}}"), &escape(value));
        }
        filled
    }
}

/// The PromQL for one metric and scope.
pub fn build_query(config: &CanaryConfig, metric: &CanaryMetric, scope: &ScopeValues) -> Result<String, Error> {
    let query = &metric.query;
    let fault = |message: String| Error::Query { metric: metric.name.clone(), message };
    if query.kind != "prometheus" {
        return Err(fault(format!("query type {:?} is not supported (only prometheus)", query.kind)));
    }
    let inline = query.custom_inline_template.as_deref().map(str::trim).filter(|template| !template.is_empty());
    if let Some(promql) = inline.and_then(|template| template.strip_prefix("PromQL:")) {
        return Ok(scope.fill(promql.trim()));
    }
    if query.metric_name.trim().is_empty() {
        return Err(fault("needs metricName, or a customInlineTemplate starting with PromQL:".into()));
    }
    let mut filters = Vec::new();
    let template = match (inline, query.custom_filter_template.as_deref().filter(|name| !name.is_empty())) {
        (Some(inline), _) => Some(inline.to_string()),
        (None, Some(name)) => Some(config.templates.get(name).cloned().ok_or_else(|| fault(format!("customFilterTemplate {name:?} is not among the config's templates")))?),
        (None, None) => None,
    };
    match template {
        Some(template) => filters.push(scope.fill(&template)),
        None => filters.push(format!("serverGroup=\"{}\"", scope.fill("${scope}"))),
    }
    filters.extend(query.label_bindings.iter().filter(|binding| !binding.trim().is_empty()).map(|binding| scope.fill(binding)));
    let mut promql = format!("avg({}{{{}}})", query.metric_name.trim(), filters.join(","));
    if !query.group_by_fields.is_empty() {
        promql.push_str(&format!(" by ({})", query.group_by_fields.join(",")));
    }
    Ok(promql)
}

/// A window of time to read, in seconds since the epoch, with the step between points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Window {
    /// The step Kayenta would use (60 s) unless that leaves fewer than 20 points in the window:
    /// then a step that gives about 20, at least 1 s.
    pub fn default_step(start: i64, end: i64) -> i64 {
        let span = (end - start).max(1);
        if span / 60 >= 20 { 60 } else { (span / 20).max(1) }
    }
}

/// One series' points: (time in seconds, value); NaN where Prometheus says NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<AnswerData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerData {
    result_type: String,
    result: Vec<RangeSeries>,
}

#[derive(Debug, Deserialize)]
struct RangeSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// Reads `promql` over `window` from the Prometheus at `base_url`.
pub async fn query_range(http: &Outbound, base_url: &str, bearer: Option<&str>, promql: &str, window: Window) -> Result<Vec<Series>, Error> {
    let url = format!("{}/api/v1/query_range", base_url.trim_end_matches('/'));
    let call = |message: String| Error::Call { url: url.clone(), message };
    let step = window.step.max(1).max((window.end - window.start) / MAX_POINTS + 1);
    let form = [("query", promql.to_string()), ("start", window.start.to_string()), ("end", window.end.to_string()), ("step", format!("{step}s"))];
    let mut request = http.post(&url).map_err(|error| call(error.to_string()))?.form(&form);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|error| call(crate::outbound::describe(&error)))?;
    let status = response.status();
    let text = http.text(response).await.map_err(|error| call(error.to_string()))?;
    // Prometheus answers errors (bad query: 400, timeout: 503) with the same JSON envelope.
    let answer: Answer = serde_json::from_str(&text).map_err(|_| call(format!("HTTP {status}: not a Prometheus answer: {}", text.chars().take(200).collect::<String>())))?;
    if answer.status != "success" {
        return Err(call(format!("query {promql:?} failed: {}", answer.error.unwrap_or_else(|| format!("HTTP {status}")))));
    }
    let data = answer.data.ok_or_else(|| call("the answer has no data".into()))?;
    if data.result_type != "matrix" {
        return Err(call(format!("query {promql:?} answered a {}, not a range of values", data.result_type)));
    }
    Ok(data
        .result
        .into_iter()
        .map(|series| Series {
            labels: series.metric,
            points: series.values.into_iter().map(|(time, value)| (time, value.parse::<f64>().unwrap_or(f64::NAN))).collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::canary::MetricQuery;

    fn metric(query: MetricQuery) -> CanaryMetric {
        serde_json::from_value(serde_json::json!({"name": "errors", "query": query, "groups": ["Errors"]})).unwrap()
    }

    fn config(templates: &[(&str, &str)]) -> CanaryConfig {
        serde_json::from_value(serde_json::json!({
            "name": "c", "metrics": [],
            "templates": templates.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()
        }))
        .unwrap()
    }

    fn query(value: serde_json::Value) -> MetricQuery {
        serde_json::from_value(value).unwrap()
    }

    fn scope(name: &str) -> ScopeValues {
        ScopeValues { scope: name.into(), location: "local".into(), extended: BTreeMap::from([("env".into(), "prod".into())]) }
    }

    #[test]
    fn an_inline_promql_template_is_the_whole_query() {
        let m = metric(query(serde_json::json!({"type": "prometheus",
            "customInlineTemplate": "PromQL: sum(rate(demo_requests_total{serverGroup=\"${scope}\",code=\"500\"}[10s]))"})));
        let built = build_query(&config(&[]), &m, &scope("demo-canary-v001")).unwrap();
        assert_eq!(built, "sum(rate(demo_requests_total{serverGroup=\"demo-canary-v001\",code=\"500\"}[10s]))");
    }

    #[test]
    fn a_metric_name_is_averaged_over_the_scope_with_filters_and_bindings() {
        let m = metric(query(serde_json::json!({"type": "prometheus", "metricName": "up", "labelBindings": ["job=\"gennaker\""], "groupByFields": ["instance"]})));
        assert_eq!(build_query(&config(&[]), &m, &scope("demo-v002")).unwrap(), "avg(up{serverGroup=\"demo-v002\",job=\"gennaker\"}) by (instance)");
        let named = metric(query(serde_json::json!({"type": "prometheus", "metricName": "up", "customFilterTemplate": "by-env"})));
        let templates = config(&[("by-env", "serverGroup=\"${scope}\",env=\"${env}\",region=\"${location}\"")]);
        assert_eq!(build_query(&templates, &named, &scope("demo-v002")).unwrap(), "avg(up{serverGroup=\"demo-v002\",env=\"prod\",region=\"local\"})");
    }

    #[test]
    fn a_missing_template_or_another_store_is_a_clear_error() {
        let named = metric(query(serde_json::json!({"type": "prometheus", "metricName": "up", "customFilterTemplate": "nope"})));
        assert!(build_query(&config(&[]), &named, &scope("a")).unwrap_err().to_string().contains("\"nope\" is not among"));
        let datadog = metric(query(serde_json::json!({"type": "datadog", "metricName": "up"})));
        assert!(build_query(&config(&[]), &datadog, &scope("a")).unwrap_err().to_string().contains("only prometheus"));
    }

    #[test]
    fn a_scope_cannot_break_out_of_its_string_literal() {
        let m = metric(query(serde_json::json!({"type": "prometheus", "metricName": "up"})));
        let built = build_query(&config(&[]), &m, &scope("x\"} or vector(1) #")).unwrap();
        assert_eq!(built, "avg(up{serverGroup=\"x\\\"} or vector(1) #\"})");
    }

    #[test]
    fn short_windows_get_a_step_that_leaves_enough_points() {
        assert_eq!(Window::default_step(0, 3600), 60);
        assert_eq!(Window::default_step(0, 60), 3);
        assert_eq!(Window::default_step(0, 10), 1);
    }
}
