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

use std::collections::BTreeSet;

use crate::error::{AppError, Result};

/// A canary config as stored: Kayenta's document (with its `id` set) plus when and by whom it
/// was last saved, which Kayenta answers as `updatedTimestamp` and `updatedTimestampIso`.
/// Each save is a new `revision`; the store keeps every earlier one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCanaryConfig {
    #[serde(flatten)]
    pub config: CanaryConfig,
    pub revision: i64,
    /// Milliseconds since the Unix epoch.
    pub updated_timestamp: i64,
    /// The same instant as ISO-8601 in UTC (`2026-12-02T10:00:00.250Z`), as Java's `Instant` writes it.
    pub updated_timestamp_iso: String,
    pub last_modified_by: String,
}

/// The longest id or name accepted (ids and names end up in URLs and file names).
pub const MAX_CANARY_CONFIG_ID_LEN: usize = 128;

/// Kayenta's canary config names: letters, digits, `-` and `_` (it stores each as `<name>.json`).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Whether `id` can be a canary config's id: as Kayenta makes them (UUIDs) or as a caller
/// chooses them (`my-config`), 1 to [`MAX_CANARY_CONFIG_ID_LEN`] letters, digits, `-`, `_`, `.`.
pub fn is_canary_config_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_CANARY_CONFIG_ID_LEN && id.chars().all(|c| is_name_char(c) || c == '.')
}

impl CanaryConfig {
    /// Checks what serde cannot, with Kayenta's and Deck's rules: an id usable in a URL, a
    /// name, at least one application and one metric, unique metric names, Prometheus queries
    /// that say what to read (a `metricName`, or a `customInlineTemplate` starting with
    /// `PromQL:`; a `customFilterTemplate` names one of `templates`), and group weights that are non-negative and, when given, add up
    /// to 100 and weigh every group a metric is in. Errors name the field by its JSON path
    /// (`metrics[1].query.type`). Whether the applications exist is for the server to check.
    pub fn validate(&self) -> Result<()> {
        if let Some(id) = &self.id
            && !is_canary_config_id(id)
        {
            return Err(AppError::invalid("id", format!("{id:?} is not a canary config id: 1 to {MAX_CANARY_CONFIG_ID_LEN} letters, digits, '-', '_' or '.'")));
        }
        if self.name.trim().is_empty() {
            return Err(AppError::invalid("name", "a canary config needs a name"));
        }
        if self.name.len() > MAX_CANARY_CONFIG_ID_LEN || !self.name.chars().all(is_name_char) {
            return Err(AppError::invalid("name", format!("{:?}: names have 1 to {MAX_CANARY_CONFIG_ID_LEN} letters, digits, '-' or '_' (Kayenta's rule)", self.name)));
        }
        if self.applications.is_empty() {
            return Err(AppError::invalid("applications", "a canary config belongs to at least one application"));
        }
        let mut applications = BTreeSet::new();
        for (index, application) in self.applications.iter().enumerate() {
            if application.trim().is_empty() {
                return Err(AppError::invalid(format!("applications[{index}]"), "an application name is empty"));
            }
            if !applications.insert(application.as_str()) {
                return Err(AppError::invalid(format!("applications[{index}]"), format!("application {application} is listed twice")));
            }
        }
        if self.metrics.is_empty() {
            return Err(AppError::invalid("metrics", "a canary config needs at least one metric"));
        }
        let mut names = BTreeSet::new();
        for (index, metric) in self.metrics.iter().enumerate() {
            metric.validate(index, &self.templates)?;
            if !names.insert(metric.name.as_str()) {
                return Err(AppError::invalid(format!("metrics[{index}].name"), format!("two metrics are named {:?}", metric.name)));
            }
        }
        self.classifier.validate(&self.metrics)
    }
}

impl CanaryMetric {
    fn validate(&self, index: usize, templates: &BTreeMap<String, String>) -> Result<()> {
        let field = |name: &str| format!("metrics[{index}].{name}");
        if self.name.trim().is_empty() {
            return Err(AppError::invalid(field("name"), "a metric needs a name"));
        }
        let query = &self.query;
        if query.kind != "prometheus" {
            return Err(AppError::invalid(field("query.type"), format!("{:?}: gennaker reads canary metrics from Prometheus only (type prometheus)", query.kind)));
        }
        let filter_template = query.custom_filter_template.as_deref().filter(|name| !name.is_empty());
        if let Some(template) = filter_template
            && !templates.contains_key(template)
        {
            return Err(AppError::invalid(field("query.customFilterTemplate"), format!("{template:?} names no entry of the config's templates")));
        }
        // As Kayenta's Prometheus source reads a query: a whole `PromQL:` query, or a metric
        // name whose series a filter (inline or a named template) narrows.
        let promql = query.custom_inline_template.as_deref().is_some_and(|text| text.trim().strip_prefix("PromQL:").is_some_and(|rest| !rest.trim().is_empty()));
        if query.metric_name.trim().is_empty() && !promql {
            return Err(AppError::invalid(
                field("query.metricName"),
                format!(
                    "metric {:?} says nothing to query: give a metricName (a customInlineTemplate or customFilterTemplate filters its series), or a customInlineTemplate starting with PromQL:",
                    self.name
                ),
            ));
        }
        Ok(())
    }
}

impl Classifier {
    fn validate(&self, metrics: &[CanaryMetric]) -> Result<()> {
        for (group, weight) in &self.group_weights {
            if !weight.is_finite() || *weight < 0.0 {
                return Err(AppError::invalid(format!("classifier.groupWeights.{group}"), format!("a group weight is a number from 0 to 100, not {weight}")));
            }
        }
        if !self.group_weights.is_empty() {
            let sum: f64 = self.group_weights.values().sum();
            if (sum - 100.0).abs() > 1e-6 {
                return Err(AppError::invalid("classifier.groupWeights", format!("the group weights add up to {sum}, not 100")));
            }
            for metric in metrics {
                if let Some(group) = metric.groups.iter().find(|group| !self.group_weights.contains_key(*group)) {
                    return Err(AppError::invalid("classifier.groupWeights", format!("group {group:?} (of metric {:?}) has no weight", metric.name)));
                }
            }
        }
        if let Some(thresholds) = &self.score_thresholds {
            let in_range = |score: f64| (0.0..=100.0).contains(&score);
            if !in_range(thresholds.pass) || !in_range(thresholds.marginal) || thresholds.marginal > thresholds.pass {
                return Err(AppError::invalid(
                    "classifier.scoreThresholds",
                    format!("scores are from 0 to 100 with marginal at most pass, not pass {} and marginal {}", thresholds.pass, thresholds.marginal),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod validation_tests {
    use super::*;

    /// Two groups weighted 70/30, one metric written as PromQL, one by name with a filter template.
    fn config() -> CanaryConfig {
        serde_json::from_value(serde_json::json!({
            "name": "shop-golden-signals", "applications": ["shop"],
            "metrics": [
                {"name": "error-rate", "groups": ["Errors"],
                    "query": {"type": "prometheus", "customInlineTemplate": "PromQL:sum(rate(http_requests_total{status=~\"5..\",version=\"${scope}\"}[1m]))"}},
                {"name": "latency", "groups": ["Latency"],
                    "query": {"type": "prometheus", "metricName": "http_request_duration_seconds", "customFilterTemplate": "by-version"}}
            ],
            "templates": {"by-version": "version=\"${scope}\""},
            "classifier": {"groupWeights": {"Errors": 70, "Latency": 30}, "scoreThresholds": {"pass": 95, "marginal": 75}}
        }))
        .unwrap()
    }

    fn field_of(config: &CanaryConfig) -> String {
        config.validate().unwrap_err().field().unwrap_or_default().to_string()
    }

    #[test]
    fn a_kayenta_shaped_config_is_valid() {
        config().validate().unwrap();
        let mut with_id = config();
        with_id.id = Some("my-config.v2".into());
        with_id.validate().unwrap();
        let mut without_weights = config();
        without_weights.classifier.group_weights.clear();
        without_weights.validate().unwrap();
    }

    #[test]
    fn names_ids_applications_and_metrics_are_required() {
        let mut broken = config();
        broken.name = " ".into();
        assert_eq!(field_of(&broken), "name");
        broken.name = "has spaces".into();
        assert_eq!(field_of(&broken), "name");
        let mut broken = config();
        broken.id = Some("a/b".into());
        assert_eq!(field_of(&broken), "id");
        let mut broken = config();
        broken.applications.clear();
        assert_eq!(field_of(&broken), "applications");
        broken.applications = vec!["shop".into(), "shop".into()];
        assert_eq!(field_of(&broken), "applications[1]");
        let mut broken = config();
        broken.metrics.clear();
        assert_eq!(field_of(&broken), "metrics");
    }

    #[test]
    fn metrics_are_unique_prometheus_queries_that_say_what_to_read() {
        let mut broken = config();
        broken.metrics[1].name = "error-rate".into();
        assert_eq!(field_of(&broken), "metrics[1].name");
        let mut broken = config();
        broken.metrics[0].query.kind = "datadog".into();
        assert_eq!(field_of(&broken), "metrics[0].query.type");
        let mut broken = config();
        broken.metrics[1].query.custom_filter_template = Some("missing".into());
        assert_eq!(field_of(&broken), "metrics[1].query.customFilterTemplate");
        let mut broken = config();
        broken.metrics[0].query.custom_inline_template = Some("PromQL: ".into());
        assert_eq!(field_of(&broken), "metrics[0].query.metricName");
        // A filter only narrows a metric's series: without the metric there is nothing to read.
        let mut broken = config();
        broken.metrics[1].query.metric_name.clear();
        assert_eq!(field_of(&broken), "metrics[1].query.metricName");
        let mut filtered = config();
        filtered.metrics[0].query.custom_inline_template = Some("status=~\"5..\"".into());
        filtered.metrics[0].query.metric_name = "http_requests_total".into();
        filtered.validate().unwrap();
    }

    #[test]
    fn group_weights_are_non_negative_add_up_to_100_and_cover_every_group() {
        let mut broken = config();
        broken.classifier.group_weights.insert("Errors".into(), -10.0);
        broken.classifier.group_weights.insert("Latency".into(), 110.0);
        assert_eq!(field_of(&broken), "classifier.groupWeights.Errors");
        let mut broken = config();
        broken.classifier.group_weights.insert("Latency".into(), 20.0);
        let error = broken.validate().unwrap_err();
        assert_eq!(error.field(), Some("classifier.groupWeights"));
        assert!(error.to_string().contains("90"), "{error}");
        let mut broken = config();
        broken.classifier.group_weights.remove("Latency");
        broken.classifier.group_weights.insert("Errors".into(), 100.0);
        let error = broken.validate().unwrap_err();
        assert!(error.to_string().contains("\"Latency\""), "{error}");
        let mut thirds = config();
        thirds.metrics[1].groups.push("Saturation".into());
        thirds.classifier.group_weights = [("Errors", 33.33), ("Latency", 33.33), ("Saturation", 33.34)].map(|(g, w)| (g.to_string(), w)).into();
        thirds.validate().unwrap();
        let mut broken = config();
        broken.classifier.score_thresholds = Some(ScoreThresholds { pass: 50.0, marginal: 75.0 });
        assert_eq!(field_of(&broken), "classifier.scoreThresholds");
    }

    #[test]
    fn the_stored_shape_is_kayentas_with_its_timestamps() {
        let mut saved = config();
        saved.id = Some("c1".into());
        let stored = StoredCanaryConfig {
            config: saved,
            revision: 2,
            updated_timestamp: 1_000,
            updated_timestamp_iso: "1970-01-01T00:00:01Z".into(),
            last_modified_by: "admin".into(),
        };
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!((json["id"].as_str(), json["name"].as_str()), (Some("c1"), Some("shop-golden-signals")));
        assert_eq!((json["revision"].as_i64(), json["updatedTimestamp"].as_i64()), (Some(2), Some(1_000)));
        assert_eq!(json["updatedTimestampIso"], "1970-01-01T00:00:01Z");
        assert_eq!(serde_json::from_value::<StoredCanaryConfig>(json).unwrap(), stored);
    }
}
