//! `resizeServerGroup`: Resizes a server group (a `target` such as `current_asg_dynamic`,
//! resolved first) to an exact capacity or by a percentage or number, then waits for the capacity
//! to be healthy.

use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use crate::engine::targets::ServerGroupTarget;
use app::model::cluster::Capacity;
use async_trait::async_trait;
use serde_json::Value;

use app::model::stage_types::{Field, Input, StageTypeInfo, choices};
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups::{self as groups, Action};

/// `scale_exact` (to `capacity`), `scale_up`/`scale_down` (by `scaleNum` instances or
/// `scalePct` percent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeAction {
    #[default]
    ScaleExact,
    ScaleUp,
    ScaleDown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResizeServerGroupStage {
    #[serde(flatten)]
    pub target: ServerGroupTarget,
    #[serde(default)]
    pub action: ResizeAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_num: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_pct: Option<u32>,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct ResizeServerGroup;

#[async_trait]
impl StageType for ResizeServerGroup {
    fn type_name(&self) -> &'static str {
        "resizeServerGroup"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "resizeServerGroup",
            "Resize Server Group",
            "Resizes a server group to an exact capacity, or by a number or percentage of instances.",
            F::target_with(vec![
            Field::new("action", "Action", choices(&[("scale_exact", "Resize to an exact capacity"), ("scale_up", "Scale up by"), ("scale_down", "Scale down by")]), ""),
            Field::new("capacity.min", "Min", Input::Number, "Exact resize: fewest instances."),
            Field::new("capacity.max", "Max", Input::Number, "Exact resize: most instances."),
            Field::new("capacity.desired", "Desired", Input::Number, "Exact resize: instances to run."),
            Field::new("scaleNum", "By instances", Input::Number, "Scale up/down: by this many instances."),
            Field::new("scalePct", "By percent", Input::Number, "Scale up/down: or by this percentage."),
        ]),
            F::target_defaults(application, json!({"action": "scale_exact", "capacity": {"min": 1, "max": 1, "desired": 1}})),
        )
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

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<ResizeServerGroupStage>(config).map(|config| config.target.applications()).unwrap_or_default()
    }

    /// Local server groups, and Kubernetes ones (`kubernetes_server_group`).
    fn cannot_run(&self, config: &Value) -> Option<String> {
        super::server_group_cloud(config)
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: ResizeServerGroupStage = config_or_fail!(task.stage);
        if super::kubernetes_server_group::applies(&config.target) {
            return super::kubernetes_server_group::run(task, &config.target, super::kubernetes_server_group::Operation::Resize, Some(&config)).await;
        }
        groups::finish(match task.index {
            0 => groups::determine_resize(task.effects, &config).await,
            1 => groups::act(task.effects, task.stage, &config.target, Action::Resize).await,
            _ => groups::wait_healthy(task.effects, task.stage, &config.target).await,
        })
    }
}
