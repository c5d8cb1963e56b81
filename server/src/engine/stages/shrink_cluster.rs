//! `shrinkCluster`: Destroys a cluster's server groups beyond `shrinkToSize` (the newest, or the
//! largest, are kept; enabled ones only with `allowDeleteActive`).

use app::model::pipeline::ShrinkClusterStage;
use async_trait::async_trait;
use serde_json::Value;

use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups::{self as groups, Action};

pub struct ShrinkCluster;

#[async_trait]
impl StageType for ShrinkCluster {
    fn type_name(&self) -> &'static str {
        "shrinkCluster"
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["determineServerGroups", "destroyServerGroups"]
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<ShrinkClusterStage>(config).map(|config| vec![config.cluster.account]).unwrap_or_default()
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
