//! `scaleManifest`: sets a Kubernetes workload's replicas (by `manifestName`, or the workload
//! of a cluster chosen by `criteria`) and waits until it is stable at that size.

use std::collections::BTreeMap;

use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::deploy_manifest::{DEPLOYED, Deployed, deployed_of, kubernetes_only, wait_until_stable};
use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::cloud::kubernetes::manifest;
use crate::engine::manifests::{ManifestTarget, connect};
use crate::engine::stage_forms as F;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleManifestStage {
    #[serde(flatten)]
    pub target: ManifestTarget,
    pub replicas: u32,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct ScaleManifest;

#[async_trait]
impl StageType for ScaleManifest {
    fn type_name(&self) -> &'static str {
        "scaleManifest"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let mut fields = target_fields();
        fields.push(Field::new("replicas", "Replicas", Input::Number, "How many pods to run."));
        F::info("scaleManifest", "Scale (Manifest)", "Sets a Kubernetes workload's replicas and waits until it is stable.", fields, target_defaults(application, json!({"replicas": 1})))
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["scaleManifest", "waitForManifestStable"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<ScaleManifestStage>(config)?.target.validate()
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<ScaleManifestStage>(config).map(|stage| vec![stage.target.account]).unwrap_or_default()
    }

    fn cannot_run(&self, config: &Value) -> Option<String> {
        kubernetes_only(config).or_else(|| super::deploy_manifest::unfinished(config))
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: ScaleManifestStage = config_or_fail!(task.stage);
        let outcome = async {
            let connection = connect(task.effects, &config.target.account).await?;
            if task.index == 1 {
                return wait_until_stable(&connection, &deployed_of(&task)).await;
            }
            let (resource, namespace, name) = crate::engine::manifests::resolve_owned(task.effects, task.execution, &connection, &config.target).await?;
            connection.scale(&resource, &namespace, &name, config.replicas).await.map_err(|e| e.to_string())?;
            Ok::<Step, String>(succeeded(acted_on(&resource, &namespace, &name)))
        };
        outcome.await.unwrap_or_else(failed)
    }
}

/// The editor's fields for a stage's one object.
pub fn target_fields() -> Vec<Field> {
    vec![
        Field::new("account", "Account", Input::Text, "The Kubernetes account."),
        Field::new("location", "Namespace", Input::Text, "The namespace (default: the account's)."),
        Field::new("manifestName", "Manifest", Input::Text, "The object, e.g. deployment web (or a cluster and criteria instead)."),
        Field::new("cluster", "Cluster", Input::Text, "Or choose from a cluster, e.g. replicaSet web ..."),
        Field::new("criteria", "Criteria", app::model::stage_types::choices(&[("", "(by name)"), ("newest", "Newest"), ("second_newest", "Second newest"), ("oldest", "Oldest"), ("largest", "Largest"), ("smallest", "Smallest")]), "... by this."),
    ]
}

pub fn target_defaults(application: &str, own: Value) -> Value {
    let mut defaults = json!({"cloudProvider": "kubernetes", "account": "", "app": application, "manifestName": ""});
    if let (Some(defaults), Value::Object(own)) = (defaults.as_object_mut(), own) {
        defaults.extend(own);
    }
    defaults
}

/// Outputs naming the object a stage acted on, for the tasks after it and for users.
pub fn acted_on(resource: &crate::cloud::kubernetes::operations::Resource, namespace: &str, name: &str) -> BTreeMap<String, Value> {
    let label = manifest::manifest_name(&resource.api.kind, name);
    let deployed = Deployed { api_version: resource.api.api_version.clone(), kind: resource.api.kind.clone(), name: name.to_string(), namespace: namespace.to_string(), versioned: None };
    let mut outputs = BTreeMap::new();
    outputs.insert("manifestName".into(), json!(label));
    outputs.insert("outputs.manifestNamesByNamespace".into(), json!({namespace: [label]}));
    outputs.insert(DEPLOYED.into(), json!([deployed]));
    outputs
}
