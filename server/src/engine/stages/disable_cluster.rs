//! `disableCluster`: Disables a cluster's enabled server groups but
//! `remainingEnabledServerGroups` (the newest, or the largest).

use app::model::pipeline::DisableClusterStage;
use async_trait::async_trait;
use serde_json::Value;

use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups::{self as groups, Action};

pub struct DisableCluster;

#[async_trait]
impl StageType for DisableCluster {
    fn type_name(&self) -> &'static str {
        "disableCluster"
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["determineServerGroups", "disableServerGroups"]
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<DisableClusterStage>(config).map(|config| vec![config.cluster.account]).unwrap_or_default()
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
