//! Pipeline triggers: when a run ends, the pipelines whose `pipeline` trigger names its
//! pipeline and status start, with the parent run in `trigger.parentExecution`. The engine
//! calls this from a durable message after the parent's completion; each child's id derives
//! from the parent's and the pipeline's, so a redelivered message starts nothing twice.
//!
//! Across applications the child's readers are not the parent's: a trigger on another
//! application fires only while the child's run user may read it, and the child carries the
//! whole parent run only when everyone may read the parent's application; otherwise a summary
//! (id, application, name, pipeline id, status, times, trigger type and user).

use std::collections::BTreeMap;

use app::model::execution::Execution;
use app::model::trigger::{TriggerKind, pipeline_trigger_matches};
use app::error::AppError;
use app::model::auth::Access;
use serde_json::{Value, json};

use super::launch::{Firing, launch};
use crate::engine::launcher::Launcher;
use crate::auth::access::authorize;
use crate::engine::listeners::RunFinished;
use crate::store::Store;

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
        let parent_seen = if pipeline.application == parent.application {
            json!(parent)
        } else {
            match cross_application_view(store, parent, trigger.run_as_user.as_deref()).await {
                Ok(view) => view,
                Err(error) => {
                    tracing::warn!(%error, parent = %parent.id, pipeline = %pipeline.name, "pipeline trigger on another application not fired");
                    continue;
                }
            }
        };
        let firing = Firing {
            kind: "pipeline",
            run_as_user: trigger.run_as_user.clone(),
            parameters: BTreeMap::new(),
            extra: BTreeMap::from([("parentExecution".to_string(), parent_seen)]),
            id: Some(format!("{}-then-{}", parent.id, pipeline.id)),
        };
        match launch(launcher, &pipeline, firing).await {
            Ok(Some(child)) => tracing::info!(parent = %parent.id, child = %child.id, pipeline = %pipeline.name, "pipeline trigger fired"),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, parent = %parent.id, pipeline = %pipeline.name, "pipeline trigger could not start its run"),
        }
    }
}

/// What a child in another application may carry of `parent`, once its run user is shown to
/// read the parent's application (see the module doc).
async fn cross_application_view(store: &Store, parent: &Execution, run_as_user: Option<&str>) -> Result<Value, AppError> {
    let caller = super::launch::caller_for(store, run_as_user).await?;
    authorize(store, &caller, &parent.application, Access::Read).await?;
    let application = store.get_application(&parent.application).await?;
    if application.permissions.is_open() {
        return Ok(json!(parent));
    }
    Ok(json!({
        "id": parent.id,
        "application": parent.application,
        "name": parent.name,
        "pipelineConfigId": parent.pipeline_config_id,
        "status": parent.status,
        "buildTime": parent.build_time,
        "startTime": parent.start_time,
        "endTime": parent.end_time,
        "trigger": {"type": parent.trigger.kind, "user": parent.trigger.user},
    }))
}
