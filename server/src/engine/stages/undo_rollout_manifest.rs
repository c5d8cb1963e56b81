//! `undoRolloutManifest`: rolls a Deployment back `numRevisionsBack` revisions (as
//! `kubectl rollout undo`) and waits until the rollback is stable.

use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::deploy_manifest::{deployed_of, kubernetes_only, wait_until_stable};
use super::scale_manifest::{acted_on, target_defaults, target_fields};
use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::manifests::{ManifestTarget, connect};
use crate::engine::stage_forms as F;

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndoRolloutManifestStage {
    #[serde(flatten)]
    pub target: ManifestTarget,
    #[serde(default = "one")]
    pub num_revisions_back: u32,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct UndoRolloutManifest;

#[async_trait]
impl StageType for UndoRolloutManifest {
    fn type_name(&self) -> &'static str {
        "undoRolloutManifest"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let mut fields = target_fields();
        fields.push(Field::new("numRevisionsBack", "Revisions back", Input::Number, "1: the revision before the current one."));
        F::info(
            "undoRolloutManifest",
            "Undo Rollout (Manifest)",
            "Rolls a Deployment back to an earlier revision and waits until it is stable.",
            fields,
            target_defaults(application, json!({"manifestName": "deployment ", "numRevisionsBack": 1})),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["undoRolloutManifest", "waitForManifestStable"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let stage: UndoRolloutManifestStage = super::parse(config)?;
        stage.target.validate()?;
        if stage.num_revisions_back == 0 {
            return Err(("numRevisionsBack".into(), "at least 1".into()));
        }
        Ok(())
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<UndoRolloutManifestStage>(config).map(|stage| vec![stage.target.account]).unwrap_or_default()
    }

    fn cannot_run(&self, config: &Value) -> Option<String> {
        kubernetes_only(config).or_else(|| super::deploy_manifest::unfinished(config))
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: UndoRolloutManifestStage = config_or_fail!(task.stage);
        let outcome = async {
            let connection = connect(task.effects, &config.target.account).await?;
            if task.index == 1 {
                return wait_until_stable(&connection, &deployed_of(&task)).await;
            }
            let (resource, namespace, name) = crate::engine::manifests::resolve_owned(task.effects, task.execution, &connection, &config.target).await?;
            if resource.api.kind != "Deployment" {
                return Err(format!("undo rollout works on Deployments, not a {}", resource.api.kind));
            }
            let revision = connection.undo_rollout(&namespace, &name, config.num_revisions_back).await.map_err(|e| e.to_string())?;
            let mut outputs = acted_on(&resource, &namespace, &name);
            outputs.insert("revision".into(), json!(revision));
            Ok::<Step, String>(succeeded(outputs))
        };
        outcome.await.unwrap_or_else(failed)
    }
}
