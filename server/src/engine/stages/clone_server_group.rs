//! `cloneServerGroup`: Clones a server group as the cluster's next version (its artifact and
//! settings, with the stage's changes), waits for it to be up, and optionally disables the
//! source.

use std::collections::BTreeMap;

use app::model::pipeline::CloneServerGroupStage;
use async_trait::async_trait;
use serde_json::Value;

use super::{StageType, Step, Task, config_or_fail, succeeded};
use crate::engine::server_groups::{self as groups, Action};

pub struct CloneServerGroup;

#[async_trait]
impl StageType for CloneServerGroup {
    fn type_name(&self) -> &'static str {
        "cloneServerGroup"
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["determineClone", "cloneServerGroup", "waitForUpInstances", "disableSource"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let clone: CloneServerGroupStage = super::parse(config)?;
        groups::validate_target(&clone.target)?;
        if let Some(capacity) = &clone.capacity {
            groups::validate_capacity("capacity", capacity)?;
        }
        if let Some(artifact) = &clone.artifact {
            artifact.to_artifact().map_err(|message| ("artifact".to_string(), message))?;
        }
        Ok(())
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<CloneServerGroupStage>(config).map(|config| vec![config.target.account]).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: CloneServerGroupStage = config_or_fail!(task.stage);
        groups::finish(match task.index {
            0 => groups::determine_clone(task.execution, task.stage, task.effects, &config).await,
            1 => groups::create_clone(task.effects, task.stage, &config.target).await,
            2 => groups::wait_clone(task.effects, task.stage, &config.target).await,
            _ if config.disable_source => groups::act(task.effects, task.stage, &config.target, Action::Disable).await,
            _ => Ok(succeeded(BTreeMap::new())),
        })
    }
}
