//! Canary configurations in Kayenta's JSON shape (what Spinnaker's canary config editor saves
//! and `kayentaCanary` stages name by `canaryConfigId`): metrics with their query, groups and
//! how each is judged, the group weights and the score thresholds. Defaults are Kayenta's
//! (`analysisConfigurations.canary`: direction either, nanStrategy remove, outliers kept,
//! effect size by mean ratio with bounds 1.0).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub applications: Vec<String>,
    pub metrics: Vec<CanaryMetric>,
    /// Filter templates by name (`customFilterTemplate`), with `${scope}`-style variables.
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    #[serde(default)]
    pub classifier: Classifier,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryMetric {
    pub name: String,
    pub query: MetricQuery,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub analysis_configurations: AnalysisConfigurations,
    #[serde(default = "default_scope")]
    pub scope_name: String,
}

fn default_scope() -> String {
    "default".into()
}

/// A Prometheus query as Kayenta's `prometheus` metric source takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricQuery {
    /// `prometheus`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub metric_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_inline_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_filter_template: Option<String>,
    #[serde(default)]
    pub label_bindings: Vec<String>,
    #[serde(default)]
    pub group_by_fields: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalysisConfigurations {
    #[serde(default)]
    pub canary: MetricAnalysis,
}

/// How one metric is judged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricAnalysis {
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub nan_strategy: NanStrategy,
    #[serde(default)]
    pub critical: bool,
    #[serde(default)]
    pub must_have_data: bool,
    #[serde(default)]
    pub muted: bool,
    #[serde(default)]
    pub effect_size: EffectSize,
    #[serde(default)]
    pub outliers: Outliers,
}

/// Which way is bad: a metric that may only `increase` fails only when it rises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Increase,
    Decrease,
    #[default]
    Either,
}

/// What a missing value (NaN) becomes: dropped, or 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NanStrategy {
    #[default]
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectSize {
    #[serde(default)]
    pub measure: EffectMeasure,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_increase: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_decrease: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_increase: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_decrease: Option<f64>,
}

impl Default for EffectSize {
    fn default() -> Self {
        Self { measure: EffectMeasure::MeanRatio, allowed_increase: None, allowed_decrease: None, critical_increase: None, critical_decrease: None }
    }
}

impl EffectSize {
    /// Kayenta's default bound for the measure: 1.0 for a mean ratio, 0.5 for CLES.
    fn neutral(&self) -> f64 {
        match self.measure {
            EffectMeasure::MeanRatio => 1.0,
            EffectMeasure::Cles => 0.5,
        }
    }

    pub fn allowed_increase(&self) -> f64 {
        self.allowed_increase.unwrap_or(self.neutral())
    }

    pub fn allowed_decrease(&self) -> f64 {
        self.allowed_decrease.unwrap_or(self.neutral())
    }

    pub fn critical_increase(&self) -> f64 {
        self.critical_increase.unwrap_or(self.neutral())
    }

    pub fn critical_decrease(&self) -> f64 {
        self.critical_decrease.unwrap_or(self.neutral())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EffectMeasure {
    /// mean(canary) / mean(baseline).
    #[default]
    MeanRatio,
    /// The common-language effect size: P(canary > baseline) + ½·P(tie).
    Cles,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outliers {
    #[serde(default)]
    pub strategy: OutlierStrategy,
    #[serde(default = "default_outlier_factor")]
    pub outlier_factor: f64,
}

impl Default for Outliers {
    fn default() -> Self {
        Self { strategy: OutlierStrategy::Keep, outlier_factor: default_outlier_factor() }
    }
}

fn default_outlier_factor() -> f64 {
    3.0
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutlierStrategy {
    #[default]
    Keep,
    Remove,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Classifier {
    /// Percent by group; groups left out share what is left of 100.
    #[serde(default)]
    pub group_weights: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_thresholds: Option<ScoreThresholds>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreThresholds {
    pub pass: f64,
    pub marginal: f64,
}

impl Default for ScoreThresholds {
    /// Orca's defaults.
    fn default() -> Self {
        Self { pass: 75.0, marginal: 50.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kayenta_config_reads_with_kayentas_defaults() {
        let config: CanaryConfig = serde_json::from_value(serde_json::json!({
            "name": "latency", "applications": ["shop"], "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
            "metrics": [{"name": "p99", "query": {"type": "prometheus", "metricName": "http_latency", "serviceType": "prometheus"},
                "groups": ["Latency"], "analysisConfigurations": {"canary": {"direction": "increase", "critical": true}}, "scopeName": "default"}],
            "templates": {}, "classifier": {"groupWeights": {"Latency": 100}, "scoreThresholds": {"pass": 95, "marginal": 75}}
        }))
        .unwrap();
        let analysis = &config.metrics[0].analysis_configurations.canary;
        assert_eq!(analysis.direction, Direction::Increase);
        assert_eq!(analysis.nan_strategy, NanStrategy::Remove);
        assert_eq!(analysis.outliers.outlier_factor, 3.0);
        assert_eq!(analysis.effect_size.allowed_increase(), 1.0);
        assert_eq!(config.classifier.score_thresholds.unwrap().pass, 95.0);
    }
}
