//! `wait`: waits `waitTime` seconds from the stage's start (a person may skip the rest). The
//! task asks to be run again when the time is up: nothing sleeps.

use std::collections::BTreeMap;

use app::model::pipeline::{NumberOrExpression, WaitStage};
use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{Fault, StageType, Step, Task, config_or_fail, failed, has_expression, parse, succeeded};
use crate::engine::tasks::{POLL_MS, TaskResult};

pub struct Wait;

#[async_trait]
impl StageType for Wait {
    fn type_name(&self) -> &'static str {
        "wait"
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["wait"]
    }

    fn validate(&self, config: &Value) -> Result<(), Fault> {
        let wait: WaitStage = parse(config)?;
        match wait.wait_time {
            NumberOrExpression::Expression(text) if !has_expression(&text) => {
                Err(("waitTime".into(), "waitTime must be a number of seconds or an expression".into()))
            }
            _ => Ok(()),
        }
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let wait: WaitStage = config_or_fail!(task.stage);
        let seconds = match wait.wait_time {
            NumberOrExpression::Number(seconds) => seconds as i64,
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
            (TaskResult::Running { retry_after_ms: remaining.min(POLL_MS * 5) }, Map::new())
        }
    }
}
