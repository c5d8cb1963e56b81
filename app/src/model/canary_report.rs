//! What a `kayentaCanary` stage keeps in its context, read for the canary report: every
//! interval's score and each metric's verdict with the points behind it (`intervals`), the
//! scores so far (`canaryScores`), the final message, a Prometheus fault being retried, when
//! the next interval ends, and the stage's score thresholds.
//!
//! Read leniently, as a report of whatever the stage wrote so far: every field may be missing
//! (its default), numbers may be written as text (Deck writes thresholds as `"75"`) and a
//! value Prometheus had no number for is `null` (serde writes NaN so), read as NaN. An
//! interval that cannot be read at all is left out rather than failing the whole report.
//! These are the app's own types: the engine's (`server::canary`) stay on the server.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::model::canary::ScoreThresholds;

/// The stage context's canary keys.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CanaryReport {
    #[serde(deserialize_with = "intervals")]
    pub intervals: Vec<IntervalReport>,
    #[serde(deserialize_with = "numbers")]
    pub canary_scores: Vec<f64>,
    #[serde(deserialize_with = "text")]
    pub canary_score_message: String,
    /// A Prometheus problem the stage is retrying (cleared once an interval is read).
    #[serde(deserialize_with = "some_text")]
    pub canary_fault: Option<String>,
    #[serde(deserialize_with = "some_text")]
    pub next_interval_end_iso: Option<String>,
    #[serde(deserialize_with = "stage_config")]
    pub canary_config: StageCanaryConfig,
}

/// The part of the stage's `canaryConfig` the report shows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageCanaryConfig {
    pub score_thresholds: ScoreThresholds,
}

/// One interval's result.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IntervalReport {
    /// 1-based.
    #[serde(deserialize_with = "number")]
    pub interval: f64,
    /// Epoch seconds.
    #[serde(deserialize_with = "number")]
    pub experiment_start: f64,
    #[serde(deserialize_with = "number")]
    pub experiment_end: f64,
    #[serde(deserialize_with = "number")]
    pub control_start: f64,
    #[serde(deserialize_with = "number")]
    pub control_end: f64,
    /// 0 to 100.
    #[serde(deserialize_with = "number")]
    pub score: f64,
    /// `Pass`, `Marginal` or `Fail`.
    #[serde(deserialize_with = "text")]
    pub classification: String,
    #[serde(deserialize_with = "text")]
    pub classification_reason: String,
    #[serde(deserialize_with = "group_scores")]
    pub group_scores: BTreeMap<String, f64>,
    #[serde(deserialize_with = "metrics")]
    pub metrics: Vec<MetricReport>,
}

/// One metric's verdict in an interval, with both series (thinned by the stage).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricReport {
    #[serde(deserialize_with = "text")]
    pub name: String,
    #[serde(deserialize_with = "texts")]
    pub groups: Vec<String>,
    /// `Pass`, `High`, `Low`, `Nodata`, `NodataFailMetric` or `Error`.
    #[serde(deserialize_with = "text")]
    pub classification: String,
    #[serde(deserialize_with = "some_text")]
    pub classification_reason: Option<String>,
    #[serde(deserialize_with = "flag")]
    pub critical: bool,
    #[serde(deserialize_with = "flag")]
    pub muted: bool,
    /// mean(experiment) / mean(control).
    #[serde(deserialize_with = "number")]
    pub ratio: f64,
    #[serde(deserialize_with = "stats")]
    pub experiment: Stats,
    #[serde(deserialize_with = "stats")]
    pub control: Stats,
    /// `(seconds, value)`; NaN where Prometheus had no number.
    #[serde(deserialize_with = "points")]
    pub control_points: Vec<(f64, f64)>,
    #[serde(deserialize_with = "points")]
    pub experiment_points: Vec<(f64, f64)>,
    #[serde(deserialize_with = "text")]
    pub control_query: String,
    #[serde(deserialize_with = "text")]
    pub experiment_query: String,
}

/// A series' summary; NaN where it had no values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub count: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

impl Default for Stats {
    fn default() -> Self {
        Self { count: 0.0, min: f64::NAN, max: f64::NAN, mean: f64::NAN }
    }
}

impl CanaryReport {
    /// The report of a stage's context (anything unreadable is left at its default).
    pub fn from_context(context: &Value) -> Self {
        Self::deserialize(context).unwrap_or_default()
    }

    /// The report of a stage with canary analysis: a `kayentaCanary` stage's context, or the
    /// analyses of a deploy stage's canary rollout (`deployProgress[].rollout`: every analysis
    /// step's intervals in order, numbered on, then the running step's), with the thresholds
    /// of the cluster's `canaryAnalysis`. `None`: the stage has no canary analysis.
    pub fn of_stage(kind: &str, context: &Value) -> Option<Self> {
        match kind {
            "kayentaCanary" => Some(Self::from_context(context)),
            "deploy" => {
                let rollout = context.get("deployProgress")?.as_array()?.iter().find_map(|progress| progress.get("rollout"))?;
                let finished = rollout.get("analyses").and_then(Value::as_array).into_iter().flatten().filter_map(|analysis| analysis.get("intervals")?.as_array());
                let running = rollout.get("intervals").and_then(Value::as_array);
                let mut intervals: Vec<Value> = finished.chain(running).flatten().cloned().collect();
                for (index, interval) in intervals.iter_mut().enumerate() {
                    if let Value::Object(fields) = interval {
                        fields.insert("interval".into(), Value::from(index + 1));
                    }
                }
                let thresholds = context
                    .get("clusters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .find_map(|cluster| cluster.get("canaryAnalysis")?.get("analysis")?.get("scoreThresholds").cloned())
                    .unwrap_or(Value::Null);
                Some(Self::from_context(&serde_json::json!({"intervals": intervals, "canaryConfig": {"scoreThresholds": thresholds}})))
            }
            _ => None,
        }
    }

    pub fn thresholds(&self) -> ScoreThresholds {
        self.canary_config.score_thresholds
    }

    /// `(interval, score)` of every interval so far; from `canaryScores` when the intervals
    /// themselves are missing (a stage written by another tool).
    pub fn scores(&self) -> Vec<(f64, f64)> {
        if self.intervals.is_empty() {
            self.canary_scores.iter().enumerate().map(|(index, score)| ((index + 1) as f64, *score)).collect()
        } else {
            self.intervals.iter().map(|interval| (interval.interval, interval.score)).collect()
        }
    }

    pub fn last_interval(&self) -> Option<&IntervalReport> {
        self.intervals.last()
    }
}

/// A JSON value as a number: a number, or text holding one; anything else is NaN.
pub fn number_of(value: &Value) -> f64 {
    match value {
        Value::Number(number) => number.as_f64().unwrap_or(f64::NAN),
        Value::String(text) => text.trim().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(number_of(&Value::deserialize(deserializer)?))
}

fn numbers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(items) => items.iter().map(number_of).collect(),
        _ => Vec::new(),
    })
}

fn text_of(value: Value) -> String {
    match value {
        Value::String(text) => text,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(text_of(Value::deserialize(deserializer)?))
}

fn some_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Some(text_of(Value::deserialize(deserializer)?)).filter(|text| !text.trim().is_empty()))
}

fn texts<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(items) => items.into_iter().map(text_of).collect(),
        Value::Null => Vec::new(),
        one => vec![text_of(one)],
    })
}

fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(flag) => flag,
        Value::String(text) => text.trim().eq_ignore_ascii_case("true"),
        _ => false,
    })
}

fn stats<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Stats, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let field = |key: &str| value.get(key).map_or(f64::NAN, number_of);
    Ok(Stats { count: value.get("count").map_or(0.0, number_of), min: field("min"), max: field("max"), mean: field("mean") })
}

/// `[[seconds, value], ...]`; an entry that is not a pair is left out.
fn points<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(f64, f64)>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match item.as_array().map(Vec::as_slice) {
                Some([time, value, ..]) => Some((number_of(time), number_of(value))),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

fn group_scores<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, f64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Object(scores) => scores.iter().map(|(group, score)| (group.clone(), number_of(score))).collect(),
        _ => BTreeMap::new(),
    })
}

fn metrics<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<MetricReport>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(items) => items.iter().filter_map(|item| MetricReport::deserialize(item).ok()).collect(),
        _ => Vec::new(),
    })
}

fn intervals<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IntervalReport>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(items) => items.iter().filter_map(|item| IntervalReport::deserialize(item).ok()).collect(),
        _ => Vec::new(),
    })
}

/// `scoreThresholds.{pass,marginal}` as numbers or text; missing, empty or unreadable ones
/// are Orca's defaults (75 and 50).
fn stage_config<'de, D: Deserializer<'de>>(deserializer: D) -> Result<StageCanaryConfig, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let defaults = ScoreThresholds::default();
    let threshold = |key: &str, default: f64| {
        let score = value.get("scoreThresholds").and_then(|thresholds| thresholds.get(key)).map_or(f64::NAN, number_of);
        if score.is_finite() { score } else { default }
    };
    Ok(StageCanaryConfig { score_thresholds: ScoreThresholds { pass: threshold("pass", defaults.pass), marginal: threshold("marginal", defaults.marginal) } })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stage_context_reads_with_nan_as_null_and_thresholds_as_text() {
        let context = json!({
            "canaryConfig": {"canaryConfigId": "c1", "scoreThresholds": {"pass": "95", "marginal": ""}},
            "canaryScores": [100.0, 50],
            "canaryScoreMessage": "Final canary score 50 is below the pass score threshold 95",
            "canaryFault": null,
            "intervals": [
                {"interval": 1, "experimentStart": 10, "experimentEnd": 70, "controlStart": 10, "controlEnd": 70,
                 "score": 100.0, "classification": "Pass", "classificationReason": "", "groupScores": {"Errors": 100.0},
                 "metrics": [{"name": "error-rate", "groups": ["Errors"], "classification": "Pass", "critical": true, "muted": false,
                    "ratio": 1.0, "experiment": {"count": 2, "min": 0.0, "max": 1.0, "mean": 0.5},
                    "control": {"count": 0, "min": null, "max": null, "mean": null},
                    "controlPoints": [[10.0, null], [20.0, 1.0]], "experimentPoints": [[10.0, 0.0], "junk", [20.0, 1.0]],
                    "controlQuery": "q1", "experimentQuery": "q2"}]},
                {"interval": 2, "score": 50, "classification": "Fail", "metrics": "not a list"},
                "not an interval"
            ]
        });
        let report = CanaryReport::from_context(&context);
        assert_eq!(report.thresholds(), ScoreThresholds { pass: 95.0, marginal: 50.0 });
        assert_eq!(report.intervals.len(), 2);
        assert_eq!(report.scores(), vec![(1.0, 100.0), (2.0, 50.0)]);
        assert_eq!(report.canary_fault, None);
        let metric = &report.intervals[0].metrics[0];
        assert!(metric.critical);
        assert!(metric.control.mean.is_nan());
        assert_eq!(metric.experiment.mean, 0.5);
        assert!(metric.control_points[0].1.is_nan());
        assert_eq!(metric.experiment_points, vec![(10.0, 0.0), (20.0, 1.0)]);
        assert!(report.last_interval().unwrap().metrics.is_empty());
    }

    #[test]
    fn an_empty_or_odd_context_is_an_empty_report_with_default_thresholds() {
        for context in [json!({}), json!(null), json!({"intervals": 3, "canaryScores": "x", "canaryConfig": []})] {
            let report = CanaryReport::from_context(&context);
            assert!(report.intervals.is_empty());
            assert_eq!(report.thresholds(), ScoreThresholds::default());
        }
        let waiting = CanaryReport::from_context(&json!({"nextIntervalEndIso": "2026-01-01T00:01:00Z", "canaryFault": "Prometheus is down"}));
        assert_eq!(waiting.next_interval_end_iso.as_deref(), Some("2026-01-01T00:01:00Z"));
        assert_eq!(waiting.canary_fault.as_deref(), Some("Prometheus is down"));
        let scores_only = CanaryReport::from_context(&json!({"canaryScores": [80, "90.5"]}));
        assert_eq!(scores_only.scores(), vec![(1.0, 80.0), (2.0, 90.5)]);
    }

    #[test]
    fn a_canary_rollouts_analyses_read_as_one_report_numbered_on() {
        let context = json!({
            "clusters": [{"strategy": "canary", "canaryAnalysis": {"analysis": {"scoreThresholds": {"pass": "90", "marginal": "60"}}}}],
            "deployProgress": [{"serverGroup": "web-v002", "rollout": {
                "analyses": [{"step": 1, "weight": 10, "intervals": [{"interval": 1, "score": 100}, {"interval": 2, "score": 100}]}],
                "intervals": [{"interval": 1, "score": 40}]
            }}]
        });
        let report = CanaryReport::of_stage("deploy", &context).unwrap();
        assert_eq!(report.scores(), vec![(1.0, 100.0), (2.0, 100.0), (3.0, 40.0)]);
        assert_eq!(report.thresholds().pass, 90.0);
        assert!(CanaryReport::of_stage("deploy", &json!({"deployProgress": [{"serverGroup": "web-v001"}]})).is_none());
        assert!(CanaryReport::of_stage("wait", &json!({})).is_none());
    }
}
