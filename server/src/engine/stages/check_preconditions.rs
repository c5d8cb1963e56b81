//! `checkPreconditions`: each precondition (an expression, or another stage's status) must
//! hold. A failing one with `failPipeline` fails the stage; the others only warn (the stage
//! ends FAILED_CONTINUE whatever its failure options say).

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PreconditionKind {
    Expression,
    StageStatus,
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
        super::parse::<CheckPreconditionsStage>(config).map(drop)
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
            };
            if !passed {
                let message = precondition.context.failure_message.clone().unwrap_or_else(|| match precondition.kind {
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
    let kinds = choices(&[("expression", "An expression is true"), ("stageStatus", "A stage has a status")]);
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
