//! `rollbackServerGroup`: Rolls a cluster back: enables the server group to restore (the previous
//! one by default), waits for it to be up, then disables the current one.

use app::model::pipeline::RollbackServerGroupStage;
use async_trait::async_trait;
use serde_json::Value;

use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups::{self as groups, Action};

pub struct RollbackServerGroup;

#[async_trait]
impl StageType for RollbackServerGroup {
    fn type_name(&self) -> &'static str {
        "rollbackServerGroup"
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["determineRollback", "enableRestoreServerGroup", "waitForUpInstances", "disableServerGroup"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let rollback: RollbackServerGroupStage = super::parse(config)?;
        match (&rollback.target.server_group_name, &rollback.target.cluster) {
            (None, None) => Err(("cluster".into(), "name the cluster (or the serverGroupName) to roll back".into())),
            _ => Ok(()),
        }
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<RollbackServerGroupStage>(config).map(|config| vec![config.target.account]).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: RollbackServerGroupStage = config_or_fail!(task.stage);
        groups::finish(match task.index {
            0 => groups::determine_rollback(task.effects, &config).await,
            1 => groups::restore(task.effects, task.stage, &config.target).await,
            2 => groups::wait_restored(task.effects, task.stage, &config.target).await,
            _ => groups::act(task.effects, task.stage, &config.target, Action::Disable).await,
        })
    }
}
