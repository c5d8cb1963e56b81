//! `findImage`: Finds the artifact a cluster runs (newest, oldest, largest or fail when they
//! differ); a later deploy without an artifact uses it.

use app::model::pipeline::FindImageStage;
use async_trait::async_trait;

use super::{StageType, Step, Task, config_or_fail};
use crate::engine::server_groups as groups;

pub struct FindImage;

#[async_trait]
impl StageType for FindImage {
    fn type_name(&self) -> &'static str {
        "findImage"
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["findImage"]
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: FindImageStage = config_or_fail!(task.stage);
        groups::finish(groups::find_image(task.effects, &config.cluster, config.selection_strategy, config.only_enabled).await)
    }
}
