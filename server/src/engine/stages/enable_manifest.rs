//! `enableManifest` and `disableManifest`: send a versioned workload its Services' traffic or
//! take it away (its pods gain or lose the Services' selector labels), as Spinnaker does for
//! ReplicaSets deployed with traffic management.

use app::model::pipeline::Extra;
use app::model::stage_types::StageTypeInfo;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::deploy_manifest::kubernetes_only;
use super::scale_manifest::{acted_on, target_defaults, target_fields};
use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::manifests::{ManifestTarget, connect, set_traffic};
use crate::engine::stage_forms as F;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficStage {
    #[serde(flatten)]
    pub target: ManifestTarget,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `enable: true` is `enableManifest`, false `disableManifest`.
pub struct SetTraffic {
    pub enable: bool,
}

pub static ENABLE: SetTraffic = SetTraffic { enable: true };
pub static DISABLE: SetTraffic = SetTraffic { enable: false };

#[async_trait]
impl StageType for SetTraffic {
    fn type_name(&self) -> &'static str {
        if self.enable { "enableManifest" } else { "disableManifest" }
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let (label, description) = if self.enable {
            ("Enable (Manifest)", "Sends a ReplicaSet its Services' traffic (its pods join the Services).")
        } else {
            ("Disable (Manifest)", "Takes a ReplicaSet's Services' traffic away (its pods leave the Services).")
        };
        F::info(self.type_name(), label, description, target_fields(), target_defaults(application, json!({})))
    }

    fn task_names(&self) -> &'static [&'static str] {
        if self.enable { &["enableManifest"] } else { &["disableManifest"] }
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<TrafficStage>(config)?.target.validate()
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<TrafficStage>(config).map(|stage| vec![stage.target.account]).unwrap_or_default()
    }

    fn cannot_run(&self, config: &Value) -> Option<String> {
        kubernetes_only(config).or_else(|| super::deploy_manifest::unfinished(config))
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: TrafficStage = config_or_fail!(task.stage);
        let outcome = async {
            let connection = connect(task.effects, &config.target.account).await?;
            let (resource, namespace, name) = crate::engine::manifests::resolve_owned(task.effects, task.execution, &connection, &config.target).await?;
            let workload = connection
                .get(&resource, &namespace, &name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{} {name} not found in {namespace}", resource.api.kind))?;
            let pods = set_traffic(&connection, &resource, &namespace, &workload, self.enable).await?;
            let mut outputs = acted_on(&resource, &namespace, &name);
            outputs.insert("podsChanged".into(), json!(pods));
            Ok::<Step, String>(succeeded(outputs))
        };
        outcome.await.unwrap_or_else(failed)
    }
}
