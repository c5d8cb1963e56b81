//! `checkPreconditions`: each precondition (an expression, or another stage's status) must
//! hold. A failing one with `failPipeline` fails the stage; the others only warn (the stage
//! ends FAILED_CONTINUE whatever its failure options say).

use std::collections::BTreeMap;

use app::model::pipeline::{CheckPreconditionsStage, PreconditionKind};
use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::tasks::TaskResult;

pub struct CheckPreconditions;

#[async_trait]
impl StageType for CheckPreconditions {
    fn type_name(&self) -> &'static str {
        "checkPreconditions"
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
