//! `disableCluster`: Disables a cluster's enabled server groups but
//! `remainingEnabledServerGroups` (the newest, or the largest).

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

/// Disables all but the `remainingEnabledServerGroups` newest (or largest) enabled ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisableClusterStage {
    #[serde(flatten)]
    pub cluster: ClusterTarget,
    #[serde(default = "crate::engine::targets::one")]
    pub remaining_enabled_server_groups: u32,
    #[serde(default)]
    pub prefer_larger_over_newer: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct DisableCluster;

#[async_trait]
impl StageType for DisableCluster {
    fn type_name(&self) -> &'static str {
        "disableCluster"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "disableCluster",
            "Disable Cluster",
            "Disables all but the newest (or largest) enabled server groups of a cluster.",
            F::cluster_with(vec![
            Field::new("remainingEnabledServerGroups", "Keep enabled", Input::Number, "Enabled server groups left, newest first."),
            Field::new("preferLargerOverNewer", "Prefer the largest", Input::Check, ""),
        ]),
            F::cluster_defaults(application, json!({"remainingEnabledServerGroups": 1})),
        )
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<DisableClusterStage>(config).map(drop)
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["determineServerGroups", "disableServerGroups"]
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<DisableClusterStage>(config).map(|config| vec![config.cluster.account]).unwrap_or_default()
    }

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<DisableClusterStage>(config).map(|config| config.cluster.applications()).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: DisableClusterStage = config_or_fail!(task.stage);
        groups::finish(match task.index {
            0 => {
                let keep = config.remaining_enabled_server_groups;
                groups::determine_cluster_enabled(task.effects, &config.cluster, keep, config.prefer_larger_over_newer).await
            }
            _ => groups::act_on_cluster(task.effects, task.stage, &config.cluster, Action::Disable).await,
        })
    }
}
