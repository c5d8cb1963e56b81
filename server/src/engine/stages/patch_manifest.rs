//! `patchManifest`: patches a Kubernetes object (`patchBody`, merged by
//! `options.mergeStrategy`: `strategic`, `merge` or `json`) and waits until it is stable.

use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo, choices};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::deploy_manifest::{deployed_of, kubernetes_only, wait_until_stable};
use super::scale_manifest::{acted_on, target_defaults, target_fields};
use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::cloud::kubernetes::operations::MergeStrategy;
use crate::engine::manifests::{ManifestTarget, connect};
use crate::engine::stage_forms as F;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchOptions {
    #[serde(default)]
    pub merge_strategy: MergeStrategy,
    #[serde(default)]
    pub record: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchManifestStage {
    #[serde(flatten)]
    pub target: ManifestTarget,
    /// An object (strategic, merge) or a list of operations (json); Spinnaker writes a
    /// one-element list around an object too.
    pub patch_body: Value,
    #[serde(default)]
    pub options: PatchOptions,
    #[serde(flatten)]
    pub extra: Extra,
}

impl PatchManifestStage {
    fn body(&self) -> Value {
        match (&self.patch_body, self.options.merge_strategy) {
            (Value::Array(items), MergeStrategy::Strategic | MergeStrategy::Merge) if items.len() == 1 => items[0].clone(),
            (body, _) => body.clone(),
        }
    }
}

pub struct PatchManifest;

#[async_trait]
impl StageType for PatchManifest {
    fn type_name(&self) -> &'static str {
        "patchManifest"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let mut fields = target_fields();
        fields.push(Field::new("options.mergeStrategy", "Merge strategy", choices(&[("strategic", "Strategic"), ("merge", "JSON merge"), ("json", "JSON patch")]), ""));
        fields.push(Field::new("patchBody", "Patch", Input::Json, "An object (strategic, merge) or a list of operations (JSON patch)."));
        F::info(
            "patchManifest",
            "Patch (Manifest)",
            "Patches a Kubernetes object and waits until it is stable.",
            fields,
            target_defaults(application, json!({"options": {"mergeStrategy": "strategic"}, "patchBody": {}})),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["patchManifest", "waitForManifestStable"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let stage: PatchManifestStage = super::parse(config)?;
        stage.target.validate()?;
        match (stage.body(), stage.options.merge_strategy) {
            (Value::Array(_), MergeStrategy::Json) | (Value::Object(_), MergeStrategy::Strategic | MergeStrategy::Merge) => Ok(()),
            (_, MergeStrategy::Json) => Err(("patchBody".into(), "a JSON patch is a list of operations".into())),
            _ => Err(("patchBody".into(), "a strategic or merge patch is an object".into())),
        }
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<PatchManifestStage>(config).map(|stage| vec![stage.target.account]).unwrap_or_default()
    }

    fn cannot_run(&self, config: &Value) -> Option<String> {
        kubernetes_only(config).or_else(|| super::deploy_manifest::unfinished(config))
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: PatchManifestStage = config_or_fail!(task.stage);
        let outcome = async {
            let connection = connect(task.effects, &config.target.account).await?;
            if task.index == 1 {
                return wait_until_stable(&connection, &deployed_of(&task)).await;
            }
            let (resource, namespace, name) = crate::engine::manifests::resolve_owned(task.effects, task.execution, &connection, &config.target).await?;
            connection.patch(&resource, &namespace, &name, &config.body(), config.options.merge_strategy).await.map_err(|e| e.to_string())?;
            Ok::<Step, String>(succeeded(acted_on(&resource, &namespace, &name)))
        };
        outcome.await.unwrap_or_else(failed)
    }
}
