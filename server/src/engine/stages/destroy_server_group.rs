//! `destroyServerGroup`: Destroys a server group (drained from its load balancers first).

use crate::engine::targets::ServerGroupStage;
use async_trait::async_trait;
use serde_json::Value;

use app::model::stage_types::StageTypeInfo;
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups::{self as groups, Action};

pub struct DestroyServerGroup;

#[async_trait]
impl StageType for DestroyServerGroup {
    fn type_name(&self) -> &'static str {
        "destroyServerGroup"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "destroyServerGroup",
            "Destroy Server Group",
            "Stops a server group's instances and deletes it.",
            F::target_with(Vec::new()),
            F::target_defaults(application, json!({})),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["determineTarget", "destroyServerGroup"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        groups::validate_target(&super::parse::<ServerGroupStage>(config)?.target)
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<ServerGroupStage>(config).map(|config| vec![config.target.account]).unwrap_or_default()
    }

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<ServerGroupStage>(config).map(|config| config.target.applications()).unwrap_or_default()
    }

    /// Local server groups, and Kubernetes ones (`kubernetes_server_group`).
    fn cannot_run(&self, config: &Value) -> Option<String> {
        super::server_group_cloud(config)
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: ServerGroupStage = config_or_fail!(task.stage);
        if super::kubernetes_server_group::applies(&config.target) {
            return super::kubernetes_server_group::run(task, &config.target, super::kubernetes_server_group::Operation::Destroy, None).await;
        }
        groups::finish(match task.index {
            0 => groups::determine_target(task.effects, &config.target).await,
            _ => groups::act(task.effects, task.stage, &config.target, Action::Destroy).await,
        })
    }
}
