//! `evaluateVariables`: its `variables` (already evaluated with the stage's context) become
//! the stage's outputs, for later stages' expressions.

use serde_json::Value;
use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use async_trait::async_trait;

use app::model::stage_types::{Field, Input, StageTypeInfo};
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{StageType, Step, Task, config_or_fail, succeeded};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateVariablesStage {
    #[serde(default)]
    pub variables: Vec<Variable>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    pub key: String,
    pub value: Value,
}

pub struct EvaluateVariables;

#[async_trait]
impl StageType for EvaluateVariables {
    fn type_name(&self) -> &'static str {
        "evaluateVariables"
    }

    fn describe(&self, _application: &str) -> StageTypeInfo {
        F::info(
            "evaluateVariables",
            "Evaluate Variables",
            "Evaluates expressions once and keeps their values for later stages.",
            vec![Field::new("variables", "Variables", Input::KeyValues, "NAME=VALUE per line; values may be expressions. Later stages read them as ${NAME}.")],
            json!({"variables": []}),
        )
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<EvaluateVariablesStage>(config).map(drop)
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["evaluateVariables"]
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let evaluate: EvaluateVariablesStage = config_or_fail!(task.stage);
        succeeded(evaluate.variables.into_iter().map(|variable| (variable.key, variable.value)).collect())
    }
}
