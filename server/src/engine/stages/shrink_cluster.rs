//! `shrinkCluster`: Destroys a cluster's server groups beyond `shrinkToSize` (the newest, or the
//! largest, are kept; enabled ones only with `allowDeleteActive`).

use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use crate::engine::targets::ClusterTarget;
use async_trait::async_trait;
use serde_json::Value;

use app::model::stage_types::{Field, Input, StageTypeInfo};
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups::{self as groups, Action};

/// Destroys all but the `shrinkToSize` newest (or largest) server groups of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShrinkClusterStage {
    #[serde(flatten)]
    pub cluster: ClusterTarget,
    #[serde(default = "crate::engine::targets::one")]
    pub shrink_to_size: u32,
    /// Without it, enabled server groups are kept whatever their rank.
    #[serde(default)]
    pub allow_delete_active: bool,
    #[serde(default)]
    pub retain_larger_over_newer: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct ShrinkCluster;

#[async_trait]
impl StageType for ShrinkCluster {
    fn type_name(&self) -> &'static str {
        "shrinkCluster"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "shrinkCluster",
            "Shrink Cluster",
            "Destroys all but the newest (or largest) server groups of a cluster.",
            F::cluster_with(vec![
            Field::new("shrinkToSize", "Keep", Input::Number, "Server groups kept, newest first; the rest are destroyed."),
            Field::new("allowDeleteActive", "Allow destroying enabled ones", Input::Check, ""),
            Field::new("retainLargerOverNewer", "Keep the largest rather than the newest", Input::Check, ""),
        ]),
            F::cluster_defaults(application, json!({"shrinkToSize": 1})),
        )
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<ShrinkClusterStage>(config).map(drop)
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["determineServerGroups", "destroyServerGroups"]
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<ShrinkClusterStage>(config).map(|config| vec![config.cluster.account]).unwrap_or_default()
    }

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<ShrinkClusterStage>(config).map(|config| config.cluster.applications()).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: ShrinkClusterStage = config_or_fail!(task.stage);
        groups::finish(match task.index {
            0 => {
                let rank_by_size = config.retain_larger_over_newer;
                groups::determine_cluster(task.effects, &config.cluster, config.shrink_to_size, rank_by_size, |group| {
                    config.allow_delete_active || group.disabled
                })
                .await
            }
            _ => groups::act_on_cluster(task.effects, task.stage, &config.cluster, Action::Destroy).await,
        })
    }
}
