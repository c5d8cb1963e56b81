//! `runJob`: Runs a one-off job in an account (on the local cloud, a process with captured
//! output) and waits for it to end; canceling the stage stops the job.

use app::model::execution::Stage;
use app::model::pipeline::RunJobStage;
use async_trait::async_trait;
use serde_json::Value;

use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups as groups;
use crate::engine::tasks::Effects;

pub struct RunJob;

#[async_trait]
impl StageType for RunJob {
    fn type_name(&self) -> &'static str {
        "runJob"
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["runJob", "waitForJob"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let job: RunJobStage = super::parse(config)?;
        if job.command.is_empty() {
            return Err(("command".into(), "runJob needs a command".into()));
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
