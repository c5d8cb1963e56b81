//! `manualJudgment`: waits for a person to continue or stop (`ExecutionService::judge` records
//! the judgment in the stage's context and runs the task again at once); the chosen input
//! becomes the output `judgmentInput`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{StageType, Step, Task, failed, succeeded};
use crate::engine::tasks::{POLL_MS, TaskResult};

pub struct ManualJudgment;

#[async_trait]
impl StageType for ManualJudgment {
    fn type_name(&self) -> &'static str {
        "manualJudgment"
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
            // Judging re-runs this task at once; the poll is a safety net.
            _ => (TaskResult::Running { retry_after_ms: POLL_MS * 30 }, Map::new()),
        }
    }
}
