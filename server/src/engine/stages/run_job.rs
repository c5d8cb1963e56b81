//! `runJob`: Runs a one-off job in an account (on the local cloud, a process with captured
//! output) and waits for it to end; canceling the stage stops the job.

use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use app::model::execution::Stage;
use async_trait::async_trait;
use serde_json::Value;

use app::model::stage_types::{Field, Input, StageTypeInfo};
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups as groups;
use crate::engine::tasks::Effects;

/// Runs a one-off process to completion; its exit code and output are the stage's outputs,
/// and a non-zero exit fails it. Lines of output `KEY=VALUE` after a line `SPINNAKER_PROPERTIES`
/// become outputs too (Spinnaker's property file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunJobStage {
    #[serde(default = "crate::engine::targets::local")]
    pub cloud_provider: String,
    #[serde(default = "crate::engine::targets::local", alias = "credentials")]
    pub account: String,
    #[serde(default = "crate::engine::targets::local")]
    pub region: String,
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct RunJob;

#[async_trait]
impl StageType for RunJob {
    fn type_name(&self) -> &'static str {
        "runJob"
    }

    fn describe(&self, _application: &str) -> StageTypeInfo {
        F::info(
            "runJob",
            "Run Job",
            "Runs a one-off process to completion; a non-zero exit fails the stage.",
            {
            let mut fields = vec![
                Field::new("command", "Command", Input::Lines, "One argument per line, e.g. sh, -c, ./migrate.sh. A non-zero exit fails the stage."),
                Field::new("env", "Environment", Input::Pairs, "NAME=VALUE per line."),
            ];
            fields.extend(F::location());
            fields
        },
            json!({"cloudProvider": "local", "account": "local", "region": "local", "command": ["sh", "-c", "echo done"]}),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["runJob", "waitForJob"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let job: RunJobStage = super::parse(config)?;
        if job.command.is_empty() {
            return Err(("command".into(), "runJob needs a command".into()));
        }
        for name in job.env.keys() {
            crate::cloud::local::sandbox::check_variable(name).map_err(|error| (format!("env.{name}"), error.to_string()))?;
        }
        Ok(())
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<RunJobStage>(config).map(|config| vec![config.account]).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: RunJobStage = config_or_fail!(task.stage);
        groups::finish(match task.index {
            0 => groups::start_job(task.execution, task.stage, task.effects, &config).await,
            _ => groups::wait_job(task.execution, task.stage, task.effects, &config, task.now).await,
        })
    }

    /// Stops the job the stage started.
    async fn cancel(&self, execution_id: &str, stage: &Stage, effects: &Effects) {
        let Ok(job) = super::config::<RunJobStage>(stage) else { return };
        let location = groups::location(&job.cloud_provider, &job.account, &job.region);
        if let Ok(provider) = effects.clouds.check_location(&location) {
            let _ = provider.cancel_job(&location, &groups::job_token(execution_id, stage)).await;
        }
    }
}
