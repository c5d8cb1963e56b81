//! Pipeline triggers: when a run ends, the pipelines whose `pipeline` trigger names its
//! pipeline and status start, with the whole parent run in `trigger.parentExecution` (its
//! stages' outputs included). The engine calls this from a durable message after the parent's
//! completion; each child's id derives from the parent's and the pipeline's, so a redelivered
//! message starts nothing twice.

use std::collections::BTreeMap;

use app::model::execution::Execution;
use app::model::trigger::{TriggerKind, pipeline_trigger_matches};
use serde_json::json;

use super::launch::{Firing, launch};
use crate::engine::launcher::Launcher;
use crate::engine::listeners::RunFinished;

/// Starts the pipelines a finished run triggers; registered with the engine at start-up.
pub struct PipelineTriggers;

#[async_trait::async_trait]
impl RunFinished for PipelineTriggers {
    async fn run_finished(&self, launcher: &Launcher, execution: &Execution) {
        fire(launcher, execution).await;
    }
}

pub async fn fire(launcher: &Launcher, parent: &Execution) {
    let store = launcher.store();
    // Ad-hoc tasks are not pipelines: nothing can name them.
    if parent.pipeline_config_id.is_empty() {
        return;
    }
    let candidates = match super::triggered_pipelines(store, "pipeline").await {
        Ok(candidates) => candidates,
        Err(error) => {
            tracing::warn!(%error, execution = %parent.id, "could not look for pipeline triggers");
            return;
        }
    };
    for (pipeline, triggers) in candidates {
        let matching = triggers.iter().find(|trigger| match &trigger.kind {
            TriggerKind::Pipeline(config) => {
                config.application == parent.application
                    && (config.pipeline == parent.pipeline_config_id || config.pipeline == parent.name)
                    && pipeline_trigger_matches(&config.status, parent.status)
            }
            _ => false,
        });
        let Some(trigger) = matching else { continue };
        let firing = Firing {
            kind: "pipeline",
            run_as_user: trigger.run_as_user.clone(),
            parameters: BTreeMap::new(),
            extra: BTreeMap::from([("parentExecution".to_string(), json!(parent))]),
            id: Some(format!("{}-then-{}", parent.id, pipeline.id)),
        };
        match launch(launcher, &pipeline, firing).await {
            Ok(Some(child)) => tracing::info!(parent = %parent.id, child = %child.id, pipeline = %pipeline.name, "pipeline trigger fired"),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, parent = %parent.id, pipeline = %pipeline.name, "pipeline trigger could not start its run"),
        }
    }
}
