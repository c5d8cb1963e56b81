//! `cloneServerGroup`: Clones a server group as the cluster's next version (its artifact and
//! settings, with the stage's changes), waits for it to be up, and optionally disables the
//! source.

use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use crate::engine::targets::{ArtifactSpec, ServerGroupTarget};
use app::model::cluster::Capacity;
use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use app::model::stage_types::{Field, Input, StageTypeInfo};
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{StageType, Step, Task, config_or_fail, succeeded};
use crate::engine::server_groups::{self as groups, Action};

/// Copies a server group into the next version of its cluster, with overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloneServerGroupStage {
    #[serde(flatten)]
    pub target: ServerGroupTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<ArtifactSpec>,
    /// Disable the source once the clone is healthy.
    #[serde(default)]
    pub disable_source: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct CloneServerGroup;

#[async_trait]
impl StageType for CloneServerGroup {
    fn type_name(&self) -> &'static str {
        "cloneServerGroup"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "cloneServerGroup",
            "Clone Server Group",
            "Copies a server group into the next version of its cluster, with overrides.",
            F::target_with(vec![
            Field::new("capacity.min", "Min", Input::Number, "Optional capacity override."),
            Field::new("capacity.max", "Max", Input::Number, ""),
            Field::new("capacity.desired", "Desired", Input::Number, ""),
            Field::new("disableSource", "Disable the source", Input::Check, "Once the clone is healthy."),
        ]),
            F::target_defaults(application, json!({})),
        )
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

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<CloneServerGroupStage>(config).map(|config| config.target.applications()).unwrap_or_default()
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
