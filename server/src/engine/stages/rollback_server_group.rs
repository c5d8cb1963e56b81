//! `rollbackServerGroup`: Rolls a cluster back: enables the server group to restore (the previous
//! one by default), waits for it to be up, then disables the current one.

use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use crate::engine::targets::ServerGroupTarget;
use async_trait::async_trait;
use serde_json::Value;

use app::model::stage_types::{Field, Input, StageTypeInfo};
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups::{self as groups, Action};

/// Rolls a cluster back: the target (default: the newest) is replaced by the server group
/// named `restoreServerGroupName`, or else the one created before it, which is resized to the
/// target's capacity if smaller, enabled, checked healthy; then the target is disabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackServerGroupStage {
    #[serde(flatten)]
    pub target: ServerGroupTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_server_group_name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct RollbackServerGroup;

#[async_trait]
impl StageType for RollbackServerGroup {
    fn type_name(&self) -> &'static str {
        "rollbackServerGroup"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "rollbackServerGroup",
            "Rollback Cluster",
            "Brings back the server group before the target (or a named one) and disables the target.",
            F::target_with(vec![Field::new(
            "restoreServerGroupName",
            "Restore server group",
            Input::Text,
            "Optional: the server group to go back to (default: the one before the target).",
        )]),
            F::cluster_defaults(application, json!({})),
        )
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

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        let Ok(config) = super::parse::<RollbackServerGroupStage>(config) else { return Vec::new() };
        let restored = config.restore_server_group_name.iter().map(|name| crate::engine::targets::application_of(name));
        config.target.applications().into_iter().chain(restored).collect()
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
