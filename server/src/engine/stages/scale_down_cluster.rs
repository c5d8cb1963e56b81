//! `scaleDownCluster`: Scales a cluster's server groups to zero but
//! `remainingFullSizeServerGroups` (enabled ones only with `allowScaleDownActive`).

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

/// Scales all but the `remainingFullSizeServerGroups` newest (or largest) to zero instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleDownClusterStage {
    #[serde(flatten)]
    pub cluster: ClusterTarget,
    #[serde(default = "crate::engine::targets::one")]
    pub remaining_full_size_server_groups: u32,
    /// Without it, enabled server groups are not scaled down.
    #[serde(default)]
    pub allow_scale_down_active: bool,
    #[serde(default)]
    pub prefer_larger_over_newer: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct ScaleDownCluster;

#[async_trait]
impl StageType for ScaleDownCluster {
    fn type_name(&self) -> &'static str {
        "scaleDownCluster"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "scaleDownCluster",
            "Scale Down Cluster",
            "Scales all but the newest (or largest) server groups of a cluster to zero instances.",
            F::cluster_with(vec![
            Field::new("remainingFullSizeServerGroups", "Keep full size", Input::Number, "Server groups left at full size, newest first."),
            Field::new("allowScaleDownActive", "Allow scaling down enabled ones", Input::Check, ""),
            Field::new("preferLargerOverNewer", "Prefer the largest", Input::Check, ""),
        ]),
            F::cluster_defaults(application, json!({"remainingFullSizeServerGroups": 1})),
        )
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<ScaleDownClusterStage>(config).map(drop)
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["determineServerGroups", "scaleDownServerGroups"]
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<ScaleDownClusterStage>(config).map(|config| vec![config.cluster.account]).unwrap_or_default()
    }

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<ScaleDownClusterStage>(config).map(|config| config.cluster.applications()).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: ScaleDownClusterStage = config_or_fail!(task.stage);
        groups::finish(match task.index {
            0 => {
                let keep = config.remaining_full_size_server_groups;
                groups::determine_cluster(task.effects, &config.cluster, keep, config.prefer_larger_over_newer, |group| {
                    (config.allow_scale_down_active || group.disabled) && group.capacity.desired > 0
                })
                .await
            }
            _ => groups::act_on_cluster(task.effects, task.stage, &config.cluster, Action::ScaleToZero).await,
        })
    }
}
