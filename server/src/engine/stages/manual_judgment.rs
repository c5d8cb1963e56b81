//! `manualJudgment`: waits for a person to continue or stop (`ExecutionService::judge` records
//! the judgment in the stage's context and runs the task again at once); the chosen input
//! becomes the output `judgmentInput`.

use app::model::execution::Stage;
use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};

use app::model::stage_types::{Field, Input, StageTypeInfo};
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{StageType, Step, Task, failed, succeeded};
use crate::engine::tasks::TaskResult;

/// How often a run waiting for a judgment is looked at anyway.
const JUDGMENT_SAFETY_NET_MS: i64 = 3_600_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManualJudgmentStage {
    #[serde(default)]
    pub instructions: String,
    /// Choices offered with the judgment; the chosen one is `judgmentInput`.
    #[serde(default)]
    pub judgment_inputs: Vec<JudgmentInput>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgmentInput {
    pub value: String,
}

pub struct ManualJudgment;

#[async_trait]
impl StageType for ManualJudgment {
    fn type_name(&self) -> &'static str {
        "manualJudgment"
    }

    fn describe(&self, _application: &str) -> StageTypeInfo {
        F::info(
            "manualJudgment",
            "Manual Judgment",
            "Waits for a person to continue or stop the pipeline, optionally choosing an input.",
            vec![
            Field::new("instructions", "Instructions", Input::LongText, "What the judge should check before continuing."),
            Field::new("judgmentInputs", "Choices", Input::Values, "Optional choices offered with Continue, one per line; later stages read judgment(\"Name\")."),
        ],
            json!({"instructions": "", "judgmentInputs": []}),
        )
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<ManualJudgmentStage>(config).map(drop)
    }

    fn check_judgment_input(&self, stage: &Stage, input: &str) -> Result<(), String> {
        let config: ManualJudgmentStage = super::config(stage)?;
        let offered: Vec<&str> = config.judgment_inputs.iter().map(|choice| choice.value.as_str()).collect();
        if offered.is_empty() || offered.contains(&input) { Ok(()) } else { Err(format!("judgmentInput must be one of {offered:?}")) }
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["waitForJudgment"]
    }

    fn awaits_judgment(&self) -> bool {
        true
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let context = &task.stage.context;
        match context.get("judgmentStatus").and_then(Value::as_str) {
            Some("continue") => {
                let mut outputs = BTreeMap::new();
                if let Some(input) = context.get("judgmentInput") {
                    outputs.insert("judgmentInput".to_string(), input.clone());
                }
                succeeded(outputs)
            }
            Some("stop") => {
                let by = context.get("lastModifiedBy").and_then(Value::as_str).unwrap_or("someone");
                failed(format!("stopped by {by} at the manual judgment"))
            }
            // Judging wakes this task in the same commit; the hourly look is a safety net (a
            // stage timeout still fires on time: the engine wakes the task for it).
            _ => (TaskResult::Running { retry_after_ms: JUDGMENT_SAFETY_NET_MS }, Map::new()),
        }
    }
}
