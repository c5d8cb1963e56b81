//! `wait`: waits `waitTime` seconds from the stage's start (a person may skip the rest). The
//! task asks to be run again when the time is up: nothing sleeps.

use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};

use app::model::stage_types::{Field, Input, StageTypeInfo};
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{Fault, StageType, Step, Task, config_or_fail, failed, has_expression, parse, succeeded};
use crate::engine::tasks::TaskResult;

/// A number that may instead be an expression (`"${parameters.seconds}"`), as in Spinnaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumberOrExpression {
    /// Negative waits nothing, as in Spinnaker.
    Number(i64),
    Expression(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitStage {
    /// Seconds to wait; none (as Spinnaker) when missing.
    #[serde(default = "no_wait")]
    pub wait_time: NumberOrExpression,
    #[serde(flatten)]
    pub extra: Extra,
}

fn no_wait() -> NumberOrExpression {
    NumberOrExpression::Number(0)
}

pub struct Wait;

#[async_trait]
impl StageType for Wait {
    fn type_name(&self) -> &'static str {
        "wait"
    }

    fn describe(&self, _application: &str) -> StageTypeInfo {
        F::info(
            "wait",
            "Wait",
            "Waits a number of seconds (a Skip button ends the wait early).",
            vec![Field::new("waitTime", "Seconds to wait", Input::NumberOrExpression, "A number, or an expression such as ${parameters.delay}.")],
            json!({"waitTime": 30}),
        )
    }

    fn skippable(&self) -> bool {
        true
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["wait"]
    }

    fn validate(&self, config: &Value) -> Result<(), Fault> {
        let wait: WaitStage = parse(config)?;
        match wait.wait_time {
            // `"30"` is a number written as text, as Spinnaker accepts.
            NumberOrExpression::Expression(text) if !has_expression(&text) && text.trim().parse::<i64>().is_err() => {
                Err(("waitTime".into(), "waitTime must be a number of seconds or an expression".into()))
            }
            _ => Ok(()),
        }
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let wait: WaitStage = config_or_fail!(task.stage);
        let seconds = match wait.wait_time {
            NumberOrExpression::Number(seconds) => seconds.max(0),
            NumberOrExpression::Expression(text) => match text.trim().parse::<i64>() {
                Ok(seconds) => seconds,
                Err(_) => return failed(format!("waitTime {text:?} is not a number of seconds")),
            },
        };
        if task.stage.context.get("skipRemainingWait").and_then(Value::as_bool) == Some(true) {
            return succeeded(BTreeMap::new());
        }
        let started = task.stage.start_time.unwrap_or(task.now);
        let remaining = started + seconds * 1000 - task.now;
        if remaining <= 0 {
            succeeded(BTreeMap::new())
        } else {
            // Due exactly when the wait ends: nothing looks in between (skipping it wakes the
            // task at once).
            (TaskResult::Running { retry_after_ms: remaining }, Map::new())
        }
    }
}
