//! `checkPreconditions`: each precondition (an expression, another stage's status, or the
//! number of server groups in a cluster: Spinnaker's `clusterSize`) must hold. A failing one
//! with `failPipeline` fails the stage; the others only warn (the stage ends FAILED_CONTINUE
//! whatever its failure options say).

use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};

use app::model::stage_types::{Field, FieldList, Input, StageTypeInfo, choices};
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::tasks::TaskResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckPreconditionsStage {
    #[serde(default)]
    pub preconditions: Vec<Precondition>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Precondition {
    #[serde(rename = "type")]
    pub kind: PreconditionKind,
    pub context: PreconditionContext,
    #[serde(default = "crate::engine::targets::yes")]
    pub fail_pipeline: bool,
    /// Where Deck writes a `clusterSize` precondition's provider (beside its context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_provider: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PreconditionKind {
    Expression,
    StageStatus,
    ClusterSize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreconditionContext {
    /// For `expression`: true or false after evaluation (`${...}`), or the text of a boolean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<Value>,
    /// For `stageStatus`: the stage (by name) and the status it must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// For `clusterSize`: where the cluster is, as Orca's precondition writes it ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "account")]
    pub credentials: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// ... how its server group count compares (`==`, `!=`, `<`, `<=`, `>`, `>=`) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<String>,
    /// ... with this number (in every region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<i64>,
    /// Count only enabled server groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_enabled_server_groups: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

const COMPARISONS: &[&str] = &["==", "!=", "<", "<=", ">", ">="];

fn compares(count: i64, comparison: &str, expected: i64) -> bool {
    match comparison {
        "!=" => count != expected,
        "<" => count < expected,
        "<=" => count <= expected,
        ">" => count > expected,
        ">=" => count >= expected,
        _ => count == expected,
    }
}

/// `clusterSize`: whether the cluster's server group count compares as asked in every region;
/// `Err` says why not (or why it could not be counted).
async fn cluster_size_holds(task: &Task<'_>, context: &PreconditionContext, cloud_provider: Option<&str>) -> Result<(), String> {
    let cluster = context.cluster.as_deref().unwrap_or_default();
    let account = context.credentials.as_deref().unwrap_or("local");
    let provider = context.cloud_provider.as_deref().or(cloud_provider).unwrap_or("local");
    let comparison = context.comparison.as_deref().unwrap_or("==");
    let expected = context.expected.unwrap_or(1);
    let regions = context.regions.clone().filter(|regions| !regions.is_empty()).unwrap_or_else(|| vec!["local".to_string()]);
    for region in regions {
        let location = crate::engine::server_groups::location(provider, account, &region);
        let snapshot = if provider == "kubernetes" {
            // Kubernetes accounts are watched, not observed on demand: the cache is current.
            task.effects.clouds.kubernetes().map_err(|e| e.to_string())?.connect(account).await.map_err(|e| e.to_string())?.check_namespace(&region).map_err(|e| e.to_string())?;
            task.effects.clouds.cache.snapshot(&location).map(|snapshot| (*snapshot).clone()).unwrap_or_default()
        } else {
            crate::engine::server_groups::observe(task.effects, &location).await?.1
        };
        let groups = crate::engine::server_groups::cluster_groups(&snapshot, cluster);
        let only_enabled = context.only_enabled_server_groups == Some(true);
        let count = groups.iter().filter(|group| !only_enabled || !group.disabled).count() as i64;
        if !compares(count, comparison, expected) {
            return Err(format!("cluster {cluster} has {count} server groups in {account}/{region}, expected {comparison} {expected}"));
        }
    }
    Ok(())
}

pub struct CheckPreconditions;

#[async_trait]
impl StageType for CheckPreconditions {
    fn type_name(&self) -> &'static str {
        "checkPreconditions"
    }

    fn describe(&self, _application: &str) -> StageTypeInfo {
        let mut info = F::info("checkPreconditions", "Check Preconditions", "Goes on only if every precondition holds: an expression is true, or another stage ended with a status.", Vec::new(), json!({"preconditions": [new_precondition()]}));
        info.lists = vec![preconditions_list()];
        info
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let check: CheckPreconditionsStage = super::parse(config)?;
        for (index, precondition) in check.preconditions.iter().enumerate() {
            if precondition.kind != PreconditionKind::ClusterSize {
                continue;
            }
            let context = &precondition.context;
            if context.cluster.as_deref().is_none_or(str::is_empty) {
                return Err((format!("preconditions[{index}].context.cluster"), "a clusterSize precondition names a cluster".into()));
            }
            if let Some(comparison) = context.comparison.as_deref().filter(|c| !COMPARISONS.contains(c)) {
                return Err((format!("preconditions[{index}].context.comparison"), format!("{comparison:?} is not one of {}", COMPARISONS.join(" "))));
            }
        }
        Ok(())
    }

    /// `clusterSize` reads the cluster's account.
    fn accounts_read(&self, config: &Value) -> Vec<String> {
        let Ok(check) = super::parse::<CheckPreconditionsStage>(config) else { return Vec::new() };
        check
            .preconditions
            .iter()
            .filter(|precondition| precondition.kind == PreconditionKind::ClusterSize)
            .map(|precondition| precondition.context.credentials.clone().unwrap_or_else(|| "local".into()))
            .collect()
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["checkPreconditions"]
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let check: CheckPreconditionsStage = config_or_fail!(task.stage);
        let mut failures = Vec::new();
        for precondition in &check.preconditions {
            let passed = match precondition.kind {
                PreconditionKind::Expression => match &precondition.context.expression {
                    Some(Value::Bool(value)) => *value,
                    Some(Value::String(text)) => text.trim() == "true",
                    _ => false,
                },
                PreconditionKind::StageStatus => {
                    let name = precondition.context.stage_name.as_deref().unwrap_or_default();
                    let wanted = precondition.context.stage_status.as_deref().unwrap_or("SUCCEEDED");
                    task.execution.stages.iter().any(|s| s.name == name && s.status.as_str() == wanted)
                }
                PreconditionKind::ClusterSize => match cluster_size_holds(&task, &precondition.context, precondition.cloud_provider.as_deref()).await {
                    Ok(()) => true,
                    Err(why) => {
                        let message = precondition.context.failure_message.clone().unwrap_or(why);
                        failures.push((precondition.fail_pipeline, message));
                        continue;
                    }
                },
            };
            if !passed {
                let message = precondition.context.failure_message.clone().unwrap_or_else(|| match precondition.kind {
                    PreconditionKind::ClusterSize => unreachable!("reported above"),
                    PreconditionKind::Expression => "an expression precondition is false".to_string(),
                    PreconditionKind::StageStatus => format!(
                        "stage {:?} is not {}",
                        precondition.context.stage_name.as_deref().unwrap_or_default(),
                        precondition.context.stage_status.as_deref().unwrap_or("SUCCEEDED")
                    ),
                });
                failures.push((precondition.fail_pipeline, message));
            }
        }
        // A failing precondition that fails the pipeline wins; the others only warn.
        match failures.iter().find(|(fail_pipeline, _)| *fail_pipeline) {
            Some((_, message)) => failed(message.clone()),
            None => match failures.into_iter().next() {
                Some((_, message)) => (TaskResult::Warned { error: message }, Map::new()),
                None => succeeded(BTreeMap::new()),
            },
        }
    }
}

/// A new precondition: an expression that holds, so the stage is valid as added.
fn new_precondition() -> Value {
    json!({"type": "expression", "context": {"expression": "${true}"}, "failPipeline": true})
}

/// One precondition, relative to `preconditions[i]`: its type, the fields of that type, then
/// what every precondition has.
fn preconditions_list() -> FieldList {
    let kinds = choices(&[("expression", "An expression is true"), ("stageStatus", "A stage has a status"), ("clusterSize", "A cluster has so many server groups")]);
    let comparisons = choices(&[("==", "exactly"), ("!=", "not"), ("<", "fewer than"), ("<=", "at most"), (">", "more than"), (">=", "at least")]);
    let statuses = choices(&[
        ("SUCCEEDED", "Succeeded"),
        ("FAILED_CONTINUE", "Failed, pipeline continued"),
        ("TERMINAL", "Failed (terminal)"),
        ("SKIPPED", "Skipped"),
        ("CANCELED", "Canceled"),
    ]);
    let fields = vec![
        Field::new("type", "Check that", kinds, "What must hold for the pipeline to go on."),
        Field::new("context.expression", "Expression", Input::Text, "Must be true, e.g. ${parameters.env == 'prod'} or ${trigger.user != 'anonymous'}.")
            .when("type", "expression"),
        Field::new("context.stageName", "Stage name", Input::Text, "The name of an earlier stage of this pipeline.").when("type", "stageStatus"),
        Field::new("context.stageStatus", "Status", statuses, "The status that stage must have ended with.").when("type", "stageStatus"),
        Field::new("context.cluster", "Cluster", Input::Text, "The cluster, e.g. shop-web.").when("type", "clusterSize"),
        Field::new("context.credentials", "Account", Input::Text, "The cluster's account (local by default).").when("type", "clusterSize"),
        Field::new("context.comparison", "Has", comparisons, "How the server group count compares.").when("type", "clusterSize"),
        Field::new("context.expected", "Server groups", Input::Number, "The number to compare with (in every region).").when("type", "clusterSize"),
        Field::new("context.failureMessage", "Failure message", Input::Text, "Optional: what the stage says when this does not hold."),
        Field::new(
            "failPipeline",
            "Fail the pipeline",
            Input::CheckOn,
            "Unchecked, a failing precondition only warns: the stage ends FAILED_CONTINUE and the pipeline goes on.",
        ),
    ];
    FieldList {
        key: "preconditions".into(),
        noun: "Precondition".into(),
        fields,
        new_item: new_precondition(),
        min_items: 1,
        empty: "No preconditions: the stage always passes.".into(),
    }
}
