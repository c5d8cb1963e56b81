//! `deleteManifest`: deletes Kubernetes objects: one by `manifestName` (or chosen from a
//! cluster by `criteria`), or every object of `kinds` matching `labelSelectors`; with their
//! dependents unless `options.cascading` is false. Then waits until they are gone.

use std::collections::BTreeMap;

use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::deploy_manifest::{DEPLOYED, Deployed, deployed_of, kubernetes_only};
use super::scale_manifest::{target_defaults, target_fields};
use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::cloud::kubernetes::manifest;
use crate::engine::manifests::{ManifestTarget, connect};
use crate::engine::server_groups::running;
use crate::engine::stage_forms as F;

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    #[serde(default = "yes")]
    pub cascading: bool,
    #[serde(default)]
    pub grace_period_seconds: Option<u32>,
}

impl Default for DeleteOptions {
    fn default() -> Self {
        Self { cascading: true, grace_period_seconds: None }
    }
}

/// One of Spinnaker's label selectors: `{"key": "app", "kind": "EQUALS", "values": ["web"]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    pub key: String,
    pub kind: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectors {
    #[serde(default)]
    pub selectors: Vec<LabelSelector>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteManifestStage {
    #[serde(flatten)]
    pub target: ManifestTarget,
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub label_selectors: LabelSelectors,
    #[serde(default)]
    pub options: DeleteOptions,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The Kubernetes selector text of Spinnaker's selectors (`app=web,tier in (a,b),!legacy`).
pub fn selector_text(selectors: &[LabelSelector]) -> Result<String, String> {
    selectors
        .iter()
        .map(|selector| {
            let key = &selector.key;
            let values = selector.values.join(",");
            let first = selector.values.first().cloned().unwrap_or_default();
            Ok(match selector.kind.as_str() {
                "EQUALS" => format!("{key}={first}"),
                "NOT_EQUALS" => format!("{key}!={first}"),
                "CONTAINS" => format!("{key} in ({values})"),
                "NOT_CONTAINS" => format!("{key} notin ({values})"),
                "EXISTS" => key.clone(),
                "NOT_EXISTS" => format!("!{key}"),
                other => return Err(format!("label selector kind {other:?} is not one of EQUALS, NOT_EQUALS, CONTAINS, NOT_CONTAINS, EXISTS, NOT_EXISTS")),
            })
        })
        .collect::<Result<Vec<String>, String>>()
        .map(|parts| parts.join(","))
}

impl DeleteManifestStage {
    fn by_selector(&self) -> bool {
        !self.kinds.is_empty() && self.target.manifest_name.is_empty() && self.target.cluster.is_empty()
    }
}

pub struct DeleteManifest;

#[async_trait]
impl StageType for DeleteManifest {
    fn type_name(&self) -> &'static str {
        "deleteManifest"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let mut fields = target_fields();
        fields.push(Field::new("kinds", "Kinds", Input::Lines, "Or every object of these kinds (one per line) ..."));
        fields.push(Field::new("labelSelectors", "Label selectors", Input::Json, "... matching these selectors."));
        fields.push(Field::new("options.cascading", "Delete dependents", Input::CheckOn, "Also delete what the object owns (a Deployment's ReplicaSets and pods)."));
        F::info("deleteManifest", "Delete (Manifest)", "Deletes Kubernetes objects and waits until they are gone.", fields, target_defaults(application, json!({"options": {"cascading": true}})))
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["deleteManifest", "waitForManifestDeleted"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let stage: DeleteManifestStage = super::parse(config)?;
        if stage.by_selector() {
            if stage.target.account.is_empty() {
                return Err(("account".into(), "name the Kubernetes account".into()));
            }
            if stage.label_selectors.selectors.is_empty() {
                return Err(("labelSelectors".into(), "deleting by kind needs at least one label selector".into()));
            }
            return selector_text(&stage.label_selectors.selectors).map(drop).map_err(|e| ("labelSelectors".into(), e));
        }
        stage.target.validate()
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<DeleteManifestStage>(config).map(|stage| vec![stage.target.account]).unwrap_or_default()
    }

    fn cannot_run(&self, config: &Value) -> Option<String> {
        kubernetes_only(config).or_else(|| super::deploy_manifest::unfinished(config))
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: DeleteManifestStage = config_or_fail!(task.stage);
        let outcome = async {
            let connection = connect(task.effects, &config.target.account).await?;
            if task.index == 1 {
                for item in deployed_of(&task) {
                    let resource = connection.resource(&item.api_version, &item.kind).await.map_err(|e| e.to_string())?;
                    if connection.get(&resource, &item.namespace, &item.name).await.map_err(|e| e.to_string())?.is_some() {
                        return Ok::<Step, String>(running());
                    }
                }
                return Ok(succeeded(BTreeMap::new()));
            }
            let mut targets = Vec::new();
            if config.by_selector() {
                let namespace = config.target.namespace(&connection);
                connection.check_namespace(&namespace).map_err(|e| e.to_string())?;
                let selector = selector_text(&config.label_selectors.selectors)?;
                for kind in &config.kinds {
                    let resource = connection.resource_of_kind(kind).await.map_err(|e| e.to_string())?;
                    for object in connection.list(&resource, &namespace, Some(&selector)).await.map_err(|e| e.to_string())? {
                        crate::engine::manifests::require_owner_write(task.effects, task.execution, &object).await?;
                        targets.push((resource.clone(), namespace.clone(), manifest::name(&object).to_string()));
                    }
                }
            } else {
                targets.push(crate::engine::manifests::resolve_owned(task.effects, task.execution, &connection, &config.target).await?);
            }
            let mut deleted = Vec::new();
            let mut names_by_namespace: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (resource, namespace, name) in targets {
                connection
                    .delete(&resource, &namespace, &name, config.options.cascading, config.options.grace_period_seconds)
                    .await
                    .map_err(|e| e.to_string())?;
                names_by_namespace.entry(namespace.clone()).or_default().push(manifest::manifest_name(&resource.api.kind, &name));
                deleted.push(Deployed { api_version: resource.api.api_version.clone(), kind: resource.api.kind.clone(), name, namespace, versioned: None });
            }
            let mut outputs = BTreeMap::new();
            outputs.insert("outputs.manifestNamesByNamespace".into(), json!(names_by_namespace));
            outputs.insert(DEPLOYED.into(), json!(deleted));
            Ok::<Step, String>(succeeded(outputs))
        };
        outcome.await.unwrap_or_else(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_read_as_kubernetes_writes_them() {
        let selector = |key: &str, kind: &str, values: &[&str]| LabelSelector { key: key.into(), kind: kind.into(), values: values.iter().map(|v| v.to_string()).collect() };
        let text = selector_text(&[selector("app", "EQUALS", &["web"]), selector("tier", "CONTAINS", &["a", "b"]), selector("legacy", "NOT_EXISTS", &[])]).unwrap();
        assert_eq!(text, "app=web,tier in (a,b),!legacy");
        assert!(selector_text(&[selector("x", "LIKE", &[])]).is_err());
    }
}
