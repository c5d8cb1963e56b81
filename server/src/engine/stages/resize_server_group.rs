//! `resizeServerGroup`: Resizes a server group (a `target` such as `current_asg_dynamic`,
//! resolved first) to an exact capacity or by a percentage or number, then waits for the capacity
//! to be healthy.

use app::model::pipeline::ResizeServerGroupStage;
use async_trait::async_trait;

use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups::{self as groups, Action};

pub struct ResizeServerGroup;

#[async_trait]
impl StageType for ResizeServerGroup {
    fn type_name(&self) -> &'static str {
        "resizeServerGroup"
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["determineTarget", "resizeServerGroup", "waitForCapacity"]
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: ResizeServerGroupStage = config_or_fail!(task.stage);
        groups::finish(match task.index {
            0 => groups::determine_resize(task.effects, &config).await,
            1 => groups::act(task.effects, task.stage, &config.target, Action::Resize).await,
            _ => groups::wait_healthy(task.effects, task.stage, &config.target).await,
        })
    }
}
