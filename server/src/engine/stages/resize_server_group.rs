//! `resizeServerGroup`: Resizes a server group (a `target` such as `current_asg_dynamic`,
//! resolved first) to an exact capacity or by a percentage or number, then waits for the capacity
//! to be healthy.

use app::model::pipeline::{ResizeAction, ResizeServerGroupStage};
use async_trait::async_trait;
use serde_json::Value;

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

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let resize: ResizeServerGroupStage = super::parse(config)?;
        groups::validate_target(&resize.target)?;
        match resize.action {
            ResizeAction::ScaleExact => match &resize.capacity {
                None => Err(("capacity".into(), "scale_exact needs a capacity {min, max, desired}".into())),
                Some(capacity) => groups::validate_capacity("capacity", capacity),
            },
            ResizeAction::ScaleUp | ResizeAction::ScaleDown if resize.scale_num.is_none() && resize.scale_pct.is_none() => {
                Err(("scaleNum".into(), "scale_up and scale_down need scaleNum or scalePct".into()))
            }
            _ => Ok(()),
        }
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<ResizeServerGroupStage>(config).map(|config| vec![config.target.account]).unwrap_or_default()
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
