//! One canary analysis (Kayenta's canary *run*): every metric of the configuration read for
//! the control and the experiment scope over their windows, judged, and weighed into a score.
//! The `kayentaCanary` stage runs one per interval; what it returns is what the stage stores
//! and the report draws (each metric's verdict and a thinned copy of both series).

use std::collections::BTreeMap;

use app::model::canary::{CanaryConfig, ScoreThresholds};
use serde::{Deserialize, Serialize};

use super::judge::{self, Classification, MetricResult};
use super::prometheus::{self, ScopeValues, Window};
use crate::outbound::Outbound;

/// Points of each series kept for the report (the judge sees them all).
const KEPT_POINTS: usize = 120;

/// Where a metrics account's Prometheus answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsStore {
    pub base_url: String,
    pub bearer: Option<String>,
}

/// A scope of the analysis: what the control and the experiment are (Kayenta's
/// `CanaryScopePair`), for the metrics whose `scopeName` is `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopePair {
    pub name: String,
    pub control: ScopeValues,
    pub experiment: ScopeValues,
}

/// One metric's verdict with the data behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricReport {
    #[serde(flatten)]
    pub result: MetricResult,
    /// `[seconds, value]` pairs, thinned to at most 120.
    pub control_points: Vec<(f64, f64)>,
    pub experiment_points: Vec<(f64, f64)>,
    pub control_query: String,
    pub experiment_query: String,
}

/// One interval's result, as the stage stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntervalResult {
    /// 1-based, as Deck numbers them.
    pub interval: usize,
    pub experiment_start: i64,
    pub experiment_end: i64,
    pub control_start: i64,
    pub control_end: i64,
    pub score: f64,
    /// `Pass`, `Marginal` or `Fail`.
    pub classification: String,
    pub classification_reason: String,
    pub group_scores: BTreeMap<String, f64>,
    pub metrics: Vec<MetricReport>,
}

/// Runs one analysis over the (control, experiment) windows. A metric that cannot be read (bad query, Prometheus down) is an error
/// for the whole run: judging without it would score what was not measured.
pub async fn analyze(
    http: &Outbound,
    store: &MetricsStore,
    config: &CanaryConfig,
    scopes: &[ScopePair],
    (control, experiment): (Window, Window),
    thresholds: ScoreThresholds,
    interval: usize,
) -> Result<IntervalResult, prometheus::Error> {
    let mut metrics = Vec::new();
    for metric in &config.metrics {
        let scope = scopes
            .iter()
            .find(|scope| scope.name == metric.scope_name)
            .or_else(|| (scopes.len() == 1).then(|| &scopes[0]))
            .ok_or_else(|| prometheus::Error::Query { metric: metric.name.clone(), message: format!("no scope named {:?} in the stage's scopes", metric.scope_name) })?;
        let control_query = prometheus::build_query(config, metric, &scope.control)?;
        let experiment_query = prometheus::build_query(config, metric, &scope.experiment)?;
        let control_series = prometheus::query_range(http, &store.base_url, store.bearer.as_deref(), &control_query, control).await?;
        let experiment_series = prometheus::query_range(http, &store.base_url, store.bearer.as_deref(), &experiment_query, experiment).await?;
        let control_points = pooled(&control_series);
        let experiment_points = pooled(&experiment_series);
        let values = |points: &[(f64, f64)]| points.iter().map(|(_, value)| *value).collect::<Vec<f64>>();
        let result = judge::classify(
            &metric.name,
            &metric.groups,
            &metric.analysis_configurations.canary,
            &values(&experiment_points),
            &values(&control_points),
        );
        metrics.push(MetricReport {
            result,
            control_points: thinned(control_points),
            experiment_points: thinned(experiment_points),
            control_query,
            experiment_query,
        });
    }
    let results: Vec<MetricResult> = metrics.iter().map(|report| report.result.clone()).collect();
    let score = judge::score(&results, &config.classifier.group_weights, thresholds);
    Ok(IntervalResult {
        interval,
        experiment_start: experiment.start,
        experiment_end: experiment.end,
        control_start: control.start,
        control_end: control.end,
        score: score.score,
        classification: score.classification,
        classification_reason: score.classification_reason,
        group_scores: score.group_scores,
        metrics,
    })
}

/// Every series' points together, in time order.
fn pooled(series: &[prometheus::Series]) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = series.iter().flat_map(|series| series.points.iter().copied()).collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// At most `KEPT_POINTS`, evenly spread, the last one kept.
fn thinned(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= KEPT_POINTS {
        return points;
    }
    let stride = points.len().div_ceil(KEPT_POINTS);
    let last = points[points.len() - 1];
    let mut kept: Vec<(f64, f64)> = points.into_iter().step_by(stride).collect();
    if kept.last() != Some(&last) {
        kept.push(last);
    }
    kept
}

/// Whether a metric failed the run by itself (a critical metric that did not pass).
pub fn critical_failure(result: &IntervalResult) -> Option<&MetricResult> {
    result.metrics.iter().map(|report| &report.result).find(|metric| metric.critical && metric.classification != Classification::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_at_most_the_limit_and_the_last_point() {
        let points: Vec<(f64, f64)> = (0..1000).map(|i| (f64::from(i), 1.0)).collect();
        let kept = thinned(points);
        assert!(kept.len() <= KEPT_POINTS + 1);
        assert_eq!(kept.first().unwrap().0, 0.0);
        assert_eq!(kept.last().unwrap().0, 999.0);
    }

    #[test]
    fn pooled_series_are_in_time_order() {
        let a = prometheus::Series { labels: BTreeMap::new(), points: vec![(3.0, 1.0), (1.0, 2.0)] };
        let b = prometheus::Series { labels: BTreeMap::new(), points: vec![(2.0, 5.0)] };
        assert_eq!(pooled(&[a, b]), vec![(1.0, 2.0), (2.0, 5.0), (3.0, 1.0)]);
    }
}
