//! `evaluateVariables`: its `variables` (already evaluated with the stage's context) become
//! the stage's outputs, for later stages' expressions.

use app::model::pipeline::EvaluateVariablesStage;
use async_trait::async_trait;

use super::{StageType, Step, Task, config_or_fail, succeeded};

pub struct EvaluateVariables;

#[async_trait]
impl StageType for EvaluateVariables {
    fn type_name(&self) -> &'static str {
        "evaluateVariables"
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["evaluateVariables"]
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let evaluate: EvaluateVariablesStage = config_or_fail!(task.stage);
        succeeded(evaluate.variables.into_iter().map(|variable| (variable.key, variable.value)).collect())
    }
}
