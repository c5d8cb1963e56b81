//! Between a stored canary config and the configurations page's form: [`listing`] cuts a config
//! into the form's text fields (and prints its JSON), [`document`] turns a posted form back
//! into Kayenta JSON for the service to check and save. Editing starts from the stored config,
//! so what the form does not show (templates, score thresholds, effect sizes, outliers, label
//! bindings, a metric's scope) is kept. Mistakes only the form can make (a direction that is
//! not one, a group weight line that is not `GROUP=WEIGHT`) are refused here, naming the field
//! as the service names it; the rest is the service's `CanaryConfig::validate`.

use serde_json::{Map, Value, json};

use super::canary::{CanaryConfigForm, CanaryConfigListing, MetricFields};
use crate::error::{AppError, Result};
use crate::model::canary::{CanaryMetric, Direction, NanStrategy, StoredCanaryConfig};

/// The prefix that makes a `customInlineTemplate` a whole PromQL query (Kayenta's).
const PROMQL: &str = "PromQL:";

/// The fields the server adds to a stored config (it drops them from a body it is sent).
const ANSWERED_FIELDS: [&str; 3] = ["updatedTimestamp", "updatedTimestampIso", "lastModifiedBy"];

pub fn listing(stored: &StoredCanaryConfig) -> CanaryConfigListing {
    let config = &stored.config;
    let mut json = serde_json::to_value(stored).unwrap_or_default();
    if let Value::Object(object) = &mut json {
        for field in ANSWERED_FIELDS {
            object.remove(field);
        }
    }
    CanaryConfigListing {
        id: config.id.clone().unwrap_or_default(),
        name: config.name.clone(),
        description: config.description.clone(),
        metrics: config.metrics.iter().map(|metric| metric_fields(metric, config)).collect(),
        group_weights: config.classifier.group_weights.iter().map(|(group, weight)| format!("{group}={weight}")).collect::<Vec<_>>().join("\n"),
        revision: stored.revision,
        updated: stored.updated_timestamp,
        updated_by: stored.last_modified_by.clone(),
        json: serde_json::to_string_pretty(&json).unwrap_or_default(),
    }
}

fn metric_fields(metric: &CanaryMetric, config: &crate::model::canary::CanaryConfig) -> MetricFields {
    let query = &metric.query;
    let inline = query.custom_inline_template.as_deref().map(str::trim).unwrap_or_default();
    let promql = inline.strip_prefix(PROMQL).map(str::trim);
    let named_template = query.custom_filter_template.as_deref().filter(|name| config.templates.contains_key(*name));
    let analysis = &metric.analysis_configurations.canary;
    MetricFields {
        original: metric.name.clone(),
        name: metric.name.clone(),
        groups: metric.groups.join(", "),
        promql: promql.unwrap_or_default().to_string(),
        metric_name: query.metric_name.clone(),
        filter: match (promql, inline.is_empty(), named_template) {
            (None, false, _) => inline.to_string(),
            (_, _, Some(name)) => name.to_string(),
            _ => String::new(),
        },
        direction: match analysis.direction {
            Direction::Increase => "increase",
            Direction::Decrease => "decrease",
            Direction::Either => "either",
        }
        .into(),
        critical: analysis.critical.then(|| "on".to_string()),
        nan_strategy: match analysis.nan_strategy {
            NanStrategy::Remove => "remove",
            NanStrategy::Replace => "replace",
        }
        .into(),
    }
}

/// The Kayenta JSON the form describes, over `base` (the config edited) when there is one.
pub fn document(form: &CanaryConfigForm, base: Option<&StoredCanaryConfig>) -> Result<Value> {
    let mut root = base.and_then(|stored| as_object(serde_json::to_value(&stored.config).ok())).unwrap_or_default();
    root.insert("name".into(), json!(form.name.trim()));
    root.insert("description".into(), json!(form.description.trim()));
    let revision = form.revision.trim();
    if !revision.is_empty() {
        let revision: i64 = revision.parse().map_err(|_| AppError::invalid("revision", format!("a revision is a number, not {revision:?}")))?;
        root.insert("revision".into(), json!(revision));
    }
    let templates = base.map(|stored| stored.config.templates.clone()).unwrap_or_default();
    let mut metrics = Vec::new();
    for (index, row) in form.metrics.iter().filter(|row| !row.is_blank()).enumerate() {
        let original = base.and_then(|stored| stored.config.metrics.iter().find(|metric| !row.original.is_empty() && metric.name == row.original));
        let mut metric = original.and_then(|metric| as_object(serde_json::to_value(metric).ok())).unwrap_or_default();
        metric.insert("name".into(), json!(row.name.trim()));
        let groups: Vec<&str> = row.groups.split(',').map(str::trim).filter(|group| !group.is_empty()).collect();
        metric.insert("groups".into(), json!(groups));
        metric.entry("scopeName").or_insert_with(|| json!("default"));

        let mut query = as_object(metric.remove("query")).unwrap_or_default();
        query.insert("type".into(), json!("prometheus"));
        query.insert("metricName".into(), json!(row.metric_name.trim()));
        let previous = query.remove("customInlineTemplate");
        query.remove("customFilterTemplate");
        let promql = row.promql.trim();
        let promql = promql.strip_prefix(PROMQL).map_or(promql, str::trim);
        let filter = row.filter.trim();
        if !promql.is_empty() {
            // The query as it was written when it is the same (`PromQL:sum(...)` stays as is).
            let unchanged = previous.as_ref().and_then(Value::as_str).filter(|text| text.trim().strip_prefix(PROMQL).map(str::trim) == Some(promql));
            query.insert("customInlineTemplate".into(), json!(unchanged.map_or_else(|| format!("{PROMQL} {promql}"), str::to_string)));
        } else if templates.contains_key(filter) {
            query.insert("customFilterTemplate".into(), json!(filter));
        } else if !filter.is_empty() {
            query.insert("customInlineTemplate".into(), json!(filter));
        }
        metric.insert("query".into(), Value::Object(query));

        let field = |name: &str| format!("metrics[{index}].analysisConfigurations.canary.{name}");
        let direction = match row.direction.trim() {
            "" | "either" => "either",
            "increase" => "increase",
            "decrease" => "decrease",
            other => return Err(AppError::invalid(field("direction"), format!("the direction is increase, decrease or either, not {other:?}"))),
        };
        let nan_strategy = match row.nan_strategy.trim() {
            "" | "remove" => "remove",
            "replace" => "replace",
            other => return Err(AppError::invalid(field("nanStrategy"), format!("missing values are removed or replaced (by 0), not {other:?}"))),
        };
        let mut configurations = as_object(metric.remove("analysisConfigurations")).unwrap_or_default();
        let mut canary = as_object(configurations.remove("canary")).unwrap_or_default();
        canary.insert("direction".into(), json!(direction));
        canary.insert("nanStrategy".into(), json!(nan_strategy));
        canary.insert("critical".into(), json!(row.critical.is_some()));
        configurations.insert("canary".into(), Value::Object(canary));
        metric.insert("analysisConfigurations".into(), Value::Object(configurations));
        metrics.push(Value::Object(metric));
    }
    root.insert("metrics".into(), Value::Array(metrics));
    let mut classifier = as_object(root.remove("classifier")).unwrap_or_default();
    classifier.insert("groupWeights".into(), Value::Object(group_weights(&form.group_weights)?));
    root.insert("classifier".into(), Value::Object(classifier));
    Ok(Value::Object(root))
}

fn as_object(value: Option<Value>) -> Option<Map<String, Value>> {
    match value {
        Some(Value::Object(object)) => Some(object),
        _ => None,
    }
}

/// `GROUP=WEIGHT` lines (blank lines ignored) as Kayenta's `groupWeights`.
fn group_weights(text: &str) -> Result<Map<String, Value>> {
    const FIELD: &str = "classifier.groupWeights";
    let mut weights = Map::new();
    for (number, line) in text.lines().enumerate().map(|(index, line)| (index + 1, line.trim())) {
        if line.is_empty() {
            continue;
        }
        let Some((group, weight)) = line.split_once('=').map(|(group, weight)| (group.trim(), weight.trim())).filter(|(group, _)| !group.is_empty()) else {
            return Err(AppError::invalid(FIELD, format!("line {number}, {line:?}, is not GROUP=WEIGHT")));
        };
        let weight: f64 =
            weight.parse().ok().filter(|weight: &f64| weight.is_finite()).ok_or_else(|| AppError::invalid(FIELD, format!("line {number}: the weight of group {group} is a number, not {weight:?}")))?;
        if weights.insert(group.to_string(), json!(weight)).is_some() {
            return Err(AppError::invalid(FIELD, format!("line {number}: group {group} is weighted twice")));
        }
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::canary::CanaryConfig;

    fn stored() -> StoredCanaryConfig {
        let config: CanaryConfig = serde_json::from_value(json!({
            "id": "c1", "name": "golden", "description": "the golden signals", "applications": ["shop"],
            "metrics": [
                {"name": "error-rate", "groups": ["Errors"],
                    "query": {"type": "prometheus", "customInlineTemplate": "PromQL:sum(rate(errors{version=\"${scope}\"}[1m]))"},
                    "analysisConfigurations": {"canary": {"direction": "increase", "critical": true, "effectSize": {"allowedIncrease": 1.2}}}},
                {"name": "latency", "groups": ["Latency", "Slow"], "scopeName": "web",
                    "query": {"type": "prometheus", "metricName": "http_seconds", "customFilterTemplate": "by-version", "labelBindings": ["a=\"b\""]}}
            ],
            "templates": {"by-version": "version=\"${scope}\""},
            "classifier": {"groupWeights": {"Errors": 70, "Latency": 20, "Slow": 10}, "scoreThresholds": {"pass": 95, "marginal": 75}}
        }))
        .unwrap();
        StoredCanaryConfig { config, revision: 3, updated_timestamp: 1_000, updated_timestamp_iso: "1970-01-01T00:00:01Z".into(), last_modified_by: "admin".into() }
    }

    fn form_of(listing: &CanaryConfigListing) -> CanaryConfigForm {
        CanaryConfigForm {
            application: "shop".into(),
            id: listing.id.clone(),
            revision: listing.revision.to_string(),
            name: listing.name.clone(),
            description: listing.description.clone(),
            metrics: listing.metrics.clone(),
            group_weights: listing.group_weights.clone(),
        }
    }

    #[test]
    fn a_config_is_listed_as_the_forms_fields_and_its_json() {
        let listing = listing(&stored());
        assert_eq!((listing.id.as_str(), listing.revision, listing.updated_by.as_str()), ("c1", 3, "admin"));
        assert_eq!(listing.group_weights, "Errors=70\nLatency=20\nSlow=10");
        let (errors, latency) = (&listing.metrics[0], &listing.metrics[1]);
        assert_eq!(errors.promql, "sum(rate(errors{version=\"${scope}\"}[1m]))");
        assert_eq!((errors.direction.as_str(), errors.critical.as_deref(), errors.nan_strategy.as_str()), ("increase", Some("on"), "remove"));
        assert_eq!((latency.metric_name.as_str(), latency.filter.as_str(), latency.groups.as_str()), ("http_seconds", "by-version", "Latency, Slow"));
        let json: Value = serde_json::from_str(&listing.json).unwrap();
        assert_eq!((json["id"].as_str(), json["revision"].as_i64()), (Some("c1"), Some(3)));
        assert!(json.get("lastModifiedBy").is_none());
    }

    #[test]
    fn saving_the_form_unchanged_keeps_the_config() {
        let stored = stored();
        let document = document(&form_of(&listing(&stored)), Some(&stored)).unwrap();
        assert_eq!(document["revision"], 3);
        let mut object = document.as_object().unwrap().clone();
        object.remove("revision");
        let again: CanaryConfig = serde_json::from_value(Value::Object(object)).unwrap();
        assert_eq!(again, stored.config);
    }

    #[test]
    fn the_form_sets_queries_directions_and_weights() {
        let stored = stored();
        let mut form = form_of(&listing(&stored));
        form.metrics[0].promql = "PromQL: sum(up)".into();
        form.metrics[0].critical = None;
        form.metrics[1].filter = "status=\"500\"".into();
        form.metrics[1].direction = "decrease".into();
        form.metrics[1].nan_strategy = "replace".into();
        form.metrics.push(MetricFields { name: "cpu".into(), groups: "Errors".into(), metric_name: "cpu_seconds".into(), ..MetricFields::default() });
        form.metrics.push(MetricFields::default());
        form.group_weights = "\n Errors = 50 \nLatency=50\nSlow=0\n".into();
        let document = document(&form, Some(&stored)).unwrap();
        let metrics = document["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 3, "the empty row is ignored");
        assert_eq!(metrics[0]["query"]["customInlineTemplate"], "PromQL: sum(up)");
        assert_eq!(metrics[0]["analysisConfigurations"]["canary"]["critical"], false);
        assert_eq!(metrics[0]["analysisConfigurations"]["canary"]["effectSize"]["allowedIncrease"], 1.2, "kept");
        assert_eq!(metrics[1]["query"]["customInlineTemplate"], "status=\"500\"");
        assert!(metrics[1]["query"].get("customFilterTemplate").is_none());
        assert_eq!(metrics[1]["query"]["labelBindings"][0], "a=\"b\"", "kept");
        assert_eq!((metrics[1]["scopeName"].as_str(), metrics[1]["analysisConfigurations"]["canary"]["direction"].as_str()), (Some("web"), Some("decrease")));
        assert_eq!(metrics[1]["analysisConfigurations"]["canary"]["nanStrategy"], "replace");
        assert_eq!((metrics[2]["query"]["metricName"].as_str(), metrics[2]["scopeName"].as_str()), (Some("cpu_seconds"), Some("default")));
        assert_eq!(document["classifier"]["groupWeights"], json!({"Errors": 50.0, "Latency": 50.0, "Slow": 0.0}));
        assert_eq!(document["classifier"]["scoreThresholds"]["pass"], 95.0, "kept");
        let config: CanaryConfig = serde_json::from_value(document).unwrap();
        config.validate().unwrap();
    }

    #[test]
    fn a_new_config_is_made_of_the_form_alone() {
        let form = CanaryConfigForm {
            application: "shop".into(),
            name: "new-one".into(),
            metrics: vec![MetricFields { name: "errors".into(), groups: "Errors".into(), promql: "sum(errors)".into(), critical: Some("on".into()), ..MetricFields::default() }],
            ..CanaryConfigForm::default()
        };
        let document = document(&form, None).unwrap();
        assert!(document.get("id").is_none() && document.get("revision").is_none());
        assert_eq!(document["metrics"][0]["query"], json!({"type": "prometheus", "metricName": "", "customInlineTemplate": "PromQL: sum(errors)"}));
        assert_eq!(document["metrics"][0]["analysisConfigurations"]["canary"], json!({"direction": "either", "nanStrategy": "remove", "critical": true}));
        assert_eq!(document["classifier"], json!({"groupWeights": {}}));
    }

    #[test]
    fn mistakes_only_the_form_can_make_name_their_field() {
        let with = |change: fn(&mut CanaryConfigForm)| {
            let mut form = CanaryConfigForm {
                application: "shop".into(),
                name: "x".into(),
                metrics: vec![MetricFields { name: "m".into(), promql: "up".into(), ..MetricFields::default() }],
                ..CanaryConfigForm::default()
            };
            change(&mut form);
            let error = document(&form, None).unwrap_err();
            (error.field().unwrap_or_default().to_string(), error.to_string())
        };
        let (field, message) = with(|form| form.group_weights = "Errors 100".into());
        assert_eq!(field, "classifier.groupWeights");
        assert!(message.contains("line 1"), "{message}");
        assert_eq!(with(|form| form.group_weights = "Errors=lots".into()).0, "classifier.groupWeights");
        assert!(with(|form| form.group_weights = "A=50\nA=50".into()).1.contains("twice"));
        assert_eq!(with(|form| form.metrics[0].direction = "sideways".into()).0, "metrics[0].analysisConfigurations.canary.direction");
        assert_eq!(with(|form| form.metrics[0].nan_strategy = "keep".into()).0, "metrics[0].analysisConfigurations.canary.nanStrategy");
        assert_eq!(with(|form| form.revision = "two".into()).0, "revision");
    }
}
