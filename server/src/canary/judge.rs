//! Kayenta's canary judge (`NetflixACAJudge-v1.0`): each metric's canary (experiment) and
//! baseline (control) values are cleaned (missing values dropped or zeroed, outliers removed
//! by the IQR rule when asked), then compared with the Mann-Whitney test at 98% confidence:
//! High when the whole interval of the shift lies above a quarter of its estimate (and the
//! effect size reaches `allowedIncrease`), Low when below, else Pass; no data is Nodata (or
//! NodataFailMetric when the metric must have data). Critical metrics that fail, or half the
//! metrics without data, make the score 0; otherwise each group scores the share of its
//! metrics that pass, and the groups are weighted into one score, classified against the
//! thresholds as Pass, Marginal or Fail.
//!
//! Departure from Kayenta: when both sides are constant but different, Kayenta adds unseeded
//! random noise before testing (so the outcome is, in practice, "canary higher" or "lower");
//! here that outcome is decided directly, so the same data always gets the same score.

use std::collections::BTreeMap;

use app::model::canary::{Direction, EffectMeasure, MetricAnalysis, NanStrategy, OutlierStrategy, ScoreThresholds};
use serde::{Deserialize, Serialize};

use super::mann_whitney;

/// Kayenta's fixed classifier settings.
const TOLERANCE: f64 = 0.25;
const CONFIDENCE: f64 = 0.98;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Classification {
    Pass,
    High,
    Low,
    Nodata,
    NodataFailMetric,
    Error,
}

/// One metric's verdict, as Kayenta reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    pub name: String,
    pub groups: Vec<String>,
    pub classification: Classification,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification_reason: Option<String>,
    pub critical: bool,
    pub muted: bool,
    /// mean(canary) / mean(baseline), 1 when they are the same or cannot be divided.
    pub ratio: f64,
    pub experiment: Stats,
    pub control: Stats,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub count: usize,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

impl Stats {
    fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Self { count: values.len(), min, max, mean: mean(values) }
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Apache Commons Math's / R's type-7 percentile of sorted values, `p` in 0..=1.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let low = h.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    sorted[low] + (h - low as f64) * (sorted[high] - sorted[low])
}

/// Drops values outside the IQR fences, widened to the 1st and 99th percentiles (Kayenta's
/// `IQRDetector` with reduced sensitivity).
fn without_outliers(values: Vec<f64>, factor: f64) -> Vec<f64> {
    let mut sorted = values.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let (q1, q3) = (percentile(&sorted, 0.25), percentile(&sorted, 0.75));
    let iqr = q3 - q1;
    let lower = percentile(&sorted, 0.01).min(q1 - factor * iqr);
    let upper = percentile(&sorted, 0.99).max(q3 + factor * iqr);
    values.into_iter().filter(|value| !(*value > upper || *value < lower)).collect()
}

fn clean(values: &[f64], analysis: &MetricAnalysis) -> Vec<f64> {
    let values: Vec<f64> = match analysis.nan_strategy {
        NanStrategy::Remove => values.iter().copied().filter(|v| !v.is_nan()).collect(),
        NanStrategy::Replace => values.iter().map(|v| if v.is_nan() { 0.0 } else { *v }).collect(),
    };
    match analysis.outliers.strategy {
        OutlierStrategy::Remove => without_outliers(values, analysis.outliers.outlier_factor),
        OutlierStrategy::Keep => values,
    }
}

fn mean_ratio(experiment: &[f64], control: &[f64]) -> f64 {
    let (e, c) = (mean(experiment), mean(control));
    if e == 0.0 || c == 0.0 { f64::NAN } else { e / c }
}

/// P(canary > baseline) + ½·P(tie), from the ranks of both together.
fn cles(experiment: &[f64], control: &[f64]) -> f64 {
    let all: Vec<f64> = experiment.iter().chain(control).copied().collect();
    let ranks = mann_whitney::average_ranks(&all);
    let (m, n) = (experiment.len() as f64, control.len() as f64);
    let r1: f64 = ranks[..experiment.len()].iter().sum();
    (2.0 * r1 - m * (m + 1.0)) / (2.0 * n * m)
}

fn distinct(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted.dedup();
    sorted
}

/// Classifies one metric from its canary (`experiment`) and baseline (`control`) values.
pub fn classify(name: &str, groups: &[String], analysis: &MetricAnalysis, experiment: &[f64], control: &[f64]) -> MetricResult {
    let (experiment, control) = (clean(experiment, analysis), clean(control, analysis));
    let mut result = MetricResult {
        name: name.to_string(),
        groups: groups.to_vec(),
        classification: Classification::Pass,
        classification_reason: None,
        critical: false,
        muted: analysis.muted,
        ratio: 1.0,
        experiment: Stats::of(&experiment),
        control: Stats::of(&control),
    };
    if experiment.is_empty() || control.is_empty() {
        if analysis.nan_strategy == NanStrategy::Remove {
            result.classification_reason = Some(format!("Missing data for {name}"));
            if analysis.must_have_data && !analysis.critical {
                result.classification = Classification::NodataFailMetric;
            } else {
                result.classification = Classification::Nodata;
                result.critical = analysis.critical;
            }
        }
        return result;
    }
    let (mut sorted_e, mut sorted_c) = (experiment.clone(), control.clone());
    sorted_e.sort_by(|a, b| a.total_cmp(b));
    sorted_c.sort_by(|a, b| a.total_cmp(b));
    if sorted_e == sorted_c {
        result.classification_reason = Some("The Canary and Baseline data are identical".into());
        return result;
    }
    let (unique_e, unique_c) = (distinct(&experiment), distinct(&control));
    if distinct(&[unique_e.clone(), unique_c.clone()].concat()).len() == 1 {
        return result;
    }
    let ratio = mean_ratio(&experiment, &control);
    result.ratio = if ratio.is_nan() { 1.0 } else { ratio };
    let effect = match analysis.effect_size.measure {
        EffectMeasure::MeanRatio => ratio,
        EffectMeasure::Cles => cles(&experiment, &control),
    };
    // (lower, upper, estimate) of the shift canary − baseline.
    let interval = if unique_e.len() == 1 && unique_c.len() == 1 {
        let shift = unique_e[0] - unique_c[0];
        (shift, shift, shift)
    } else {
        match mann_whitney::test(&experiment, &control, CONFIDENCE) {
            Ok(outcome) => (outcome.lower, outcome.upper, outcome.estimate),
            Err(_) => {
                result.classification = Classification::Error;
                result.classification_reason = Some("Metric Classification Failed".into());
                return result;
            }
        }
    };
    let (lower, upper, estimate) = interval;
    let bound = TOLERANCE * estimate.abs();
    let size = &analysis.effect_size;
    let high = matches!(analysis.direction, Direction::Increase | Direction::Either) && lower > bound && (effect.is_nan() || effect >= size.allowed_increase());
    let low = matches!(analysis.direction, Direction::Decrease | Direction::Either) && upper < -bound && (effect.is_nan() || effect <= size.allowed_decrease());
    if high || low {
        let (label, word, threshold_met) = if high {
            (Classification::High, "High", effect.is_nan() || effect >= size.critical_increase())
        } else {
            (Classification::Low, "Low", effect.is_nan() || effect <= size.critical_decrease())
        };
        result.classification = label;
        if analysis.critical && threshold_met {
            result.critical = true;
            result.classification_reason = Some(format!("The metric {name} was classified as {word} (Critical)"));
        } else {
            result.classification_reason = Some(format!("{name} was classified as {word}"));
        }
    }
    result
}

/// The judge's verdict on a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Score {
    /// 0..=100, two decimals.
    pub score: f64,
    /// `Pass`, `Marginal` or `Fail`.
    pub classification: String,
    pub classification_reason: String,
    pub group_scores: BTreeMap<String, f64>,
}

/// Weighs the metrics' verdicts into one score (Kayenta's `WeightedSumScorer`).
pub fn score(results: &[MetricResult], group_weights: &BTreeMap<String, f64>, thresholds: ScoreThresholds) -> Score {
    let counted: Vec<&MetricResult> = results.iter().filter(|result| !result.muted).collect();
    let mut tallies: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for result in &counted {
        for group in &result.groups {
            let tally = tallies.entry(group.as_str()).or_default();
            match result.classification {
                Classification::Pass => {
                    tally.0 += 1;
                    tally.1 += 1;
                }
                Classification::High | Classification::Low | Classification::NodataFailMetric => tally.1 += 1,
                Classification::Nodata | Classification::Error => {}
            }
        }
    }
    // A group with nothing to count shows 0 but weighs in as 100.
    let group_scores: BTreeMap<String, f64> = tallies.iter().map(|(group, (pass, total))| (group.to_string(), if *total == 0 { 0.0 } else { 100.0 * f64::from(*pass) / f64::from(*total) })).collect();
    let classify = |score: f64, reason: String| {
        let label = if score >= thresholds.pass {
            "Pass"
        } else if score >= thresholds.marginal {
            "Marginal"
        } else {
            "Fail"
        };
        Score { score, classification: label.into(), classification_reason: reason, group_scores: group_scores.clone() }
    };
    if let Some(failure) = counted.iter().find(|result| result.critical && result.classification != Classification::Pass) {
        return classify(0.0, format!("Canary Failed: {}", failure.classification_reason.clone().unwrap_or_default()));
    }
    let nodata = counted.iter().filter(|result| result.classification == Classification::Nodata).count();
    if !counted.is_empty() && 100 * nodata >= 50 * counted.len() {
        return classify(0.0, "Canary Failed: 50% or more metrics returned NODATA".into());
    }
    let weighted: f64 = group_weights.values().sum();
    let unweighted: Vec<&&str> = tallies.keys().filter(|group| !group_weights.contains_key(**group)).collect();
    let share = if unweighted.is_empty() { 0.0 } else { (100.0 - weighted) / unweighted.len() as f64 };
    let sum: f64 = tallies
        .iter()
        .map(|(group, (_, total))| {
            let group_score = if *total == 0 { 100.0 } else { group_scores[*group] };
            group_score * group_weights.get(*group).copied().unwrap_or(share) / 100.0
        })
        .sum();
    // Half up to two decimals, as Kayenta's BigDecimal rounding.
    let rounded = (sum * 100.0 + 1e-9).round() / 100.0;
    classify(rounded, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(json: serde_json::Value) -> MetricAnalysis {
        serde_json::from_value(json).unwrap()
    }

    fn result(name: &str, group: &str, classification: Classification) -> MetricResult {
        MetricResult {
            name: name.into(),
            groups: vec![group.into()],
            classification,
            classification_reason: Some(format!("{name} was classified as {classification:?}")),
            critical: false,
            muted: false,
            ratio: 1.0,
            experiment: Stats::default(),
            control: Stats::default(),
        }
    }

    #[test]
    fn a_slower_canary_is_high_and_a_same_one_passes() {
        let baseline: Vec<f64> = (0..50).map(|i| 100.0 + f64::from(i % 10)).collect();
        let slower: Vec<f64> = baseline.iter().map(|v| v * 1.5).collect();
        let same: Vec<f64> = baseline.iter().rev().copied().collect();
        let either = analysis(serde_json::json!({}));
        assert_eq!(classify("latency", &[], &either, &slower, &baseline).classification, Classification::High);
        assert_eq!(classify("latency", &[], &either, &same, &baseline).classification, Classification::Pass);
        let only_decrease = analysis(serde_json::json!({"direction": "decrease"}));
        assert_eq!(classify("latency", &[], &only_decrease, &slower, &baseline).classification, Classification::Pass, "a rise is fine for a metric that may only fall");
        let faster: Vec<f64> = baseline.iter().map(|v| v * 0.5).collect();
        assert_eq!(classify("latency", &[], &only_decrease, &faster, &baseline).classification, Classification::Low);
    }

    #[test]
    fn critical_and_missing_data_follow_kayenta() {
        let critical = analysis(serde_json::json!({"critical": true}));
        let high = classify("errors", &[], &critical, &[5.0, 6.0, 7.0, 8.0, 9.0, 5.5], &[1.0, 1.5, 2.0, 1.2, 1.1, 1.3]);
        assert_eq!((high.classification, high.critical), (Classification::High, true));
        assert_eq!(high.classification_reason.as_deref(), Some("The metric errors was classified as High (Critical)"));
        let nodata = classify("errors", &[], &analysis(serde_json::json!({})), &[f64::NAN], &[1.0]);
        assert_eq!(nodata.classification, Classification::Nodata);
        let must = classify("errors", &[], &analysis(serde_json::json!({"mustHaveData": true})), &[], &[1.0]);
        assert_eq!(must.classification, Classification::NodataFailMetric);
        let zeroed = classify("errors", &[], &analysis(serde_json::json!({"nanStrategy": "replace"})), &[f64::NAN, 0.0], &[0.0, 0.0]);
        assert_eq!(zeroed.classification, Classification::Pass, "missing read as 0: identical");
        let constant = classify("errors", &[], &analysis(serde_json::json!({})), &[3.0, 3.0, 3.0], &[1.0, 1.0, 1.0]);
        assert_eq!(constant.classification, Classification::High, "both constant, canary higher");
    }

    #[test]
    fn outliers_are_removed_by_the_iqr_rule() {
        let mut values: Vec<f64> = (1..=100).map(f64::from).collect();
        values.push(10_000.0);
        let kept = without_outliers(values, 3.0);
        assert_eq!(kept.len(), 100, "the one far value goes");
        assert!((percentile(&[1.0, 2.0, 3.0, 4.0], 0.25) - 1.75).abs() < 1e-12, "type 7");
    }

    /// Kayenta's ScorerSuite numbers.
    #[test]
    fn scores_weigh_groups_as_kayenta() {
        let thresholds = ScoreThresholds::default();
        let one_group = [result("a", "g", Classification::Pass), result("b", "g", Classification::High), result("c", "g", Classification::Low)];
        assert_eq!(score(&one_group, &BTreeMap::new(), thresholds).score, 33.33);
        let weights = BTreeMap::from([("g1".to_string(), 75.0), ("g2".to_string(), 25.0)]);
        let two = [result("a", "g1", Classification::Pass), result("b", "g2", Classification::High)];
        let scored = score(&two, &weights, thresholds);
        assert_eq!((scored.score, scored.classification.as_str()), (75.0, "Pass"));
        let halves = BTreeMap::from([("g1".to_string(), 50.0), ("g2".to_string(), 50.0)]);
        let mixed = [result("a", "g1", Classification::Pass), result("b", "g1", Classification::Nodata), result("c", "g2", Classification::High)];
        let scored = score(&mixed, &halves, thresholds);
        assert_eq!((scored.score, scored.classification.as_str()), (50.0, "Marginal"));
        let empty = [result("a", "g", Classification::Nodata)];
        let scored = score(&empty, &BTreeMap::new(), thresholds);
        assert_eq!(scored.score, 0.0);
        assert!(scored.classification_reason.contains("NODATA"));
        let mut critical = result("d", "g1", Classification::High);
        critical.critical = true;
        let scored = score(&[result("a", "g1", Classification::Pass), critical], &BTreeMap::new(), thresholds);
        assert_eq!((scored.score, scored.classification.as_str()), (0.0, "Fail"));
    }
}
