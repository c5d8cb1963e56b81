//! `findImage`: Finds the artifact a cluster runs (newest, oldest, largest or fail when they
//! differ); a later deploy without an artifact uses it.

use serde_json::Value;
use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};
use crate::engine::targets::ClusterTarget;
use async_trait::async_trait;

use app::model::stage_types::{Field, Input, StageTypeInfo, choices};
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups as groups;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SelectionStrategy {
    #[default]
    Newest,
    Oldest,
    Largest,
    /// Fail unless exactly one server group matches.
    Fail,
}

/// Finds the artifact a cluster runs; a later deploy without an artifact uses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindImageStage {
    #[serde(flatten)]
    pub cluster: ClusterTarget,
    #[serde(default)]
    pub selection_strategy: SelectionStrategy,
    #[serde(default = "crate::engine::targets::yes")]
    pub only_enabled: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct FindImage;

#[async_trait]
impl StageType for FindImage {
    fn type_name(&self) -> &'static str {
        "findImage"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "findImage",
            "Find Image from Cluster",
            "Finds the artifact a cluster runs; a later deploy without an artifact deploys it.",
            F::cluster_with(vec![
            Field::new("selectionStrategy", "Pick", choices(&[("NEWEST", "Newest"), ("OLDEST", "Oldest"), ("LARGEST", "Largest"), ("FAIL", "Fail unless exactly one")]), "Which server group's artifact, when several match."),
            Field::new("onlyEnabled", "Only enabled server groups", Input::Check, ""),
        ]),
            F::cluster_defaults(application, json!({"selectionStrategy": "NEWEST", "onlyEnabled": true})),
        )
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<FindImageStage>(config).map(drop)
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["findImage"]
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: FindImageStage = config_or_fail!(task.stage);
        groups::finish(groups::find_image(task.effects, &config.cluster, config.selection_strategy, config.only_enabled).await)
    }
}
