//! `scaleDownCluster`: Scales a cluster's server groups to zero but
//! `remainingFullSizeServerGroups` (enabled ones only with `allowScaleDownActive`).

use app::model::pipeline::ScaleDownClusterStage;
use async_trait::async_trait;
use serde_json::Value;

use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups::{self as groups, Action};

pub struct ScaleDownCluster;

#[async_trait]
impl StageType for ScaleDownCluster {
    fn type_name(&self) -> &'static str {
        "scaleDownCluster"
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["determineServerGroups", "scaleDownServerGroups"]
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<ScaleDownClusterStage>(config).map(|config| vec![config.cluster.account]).unwrap_or_default()
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
