//! `deployManifest`: applies Kubernetes manifests (written in the stage, or read from an
//! artifact) as Spinnaker's Kubernetes provider does: moniker and artifact annotations added,
//! ReplicaSets/ConfigMaps/Secrets versioned (`web-v001`, a new version only when the manifest
//! changed), a run's Docker images bound into the containers, then waits until every manifest
//! is stable; with `trafficManagement`, a versioned ReplicaSet joins its Services and, once
//! stable, older versions leave them (red/black) or are deleted (highlander).

use std::collections::BTreeMap;

use app::model::artifact::Artifact;
use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo, choices};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::cloud::kubernetes::manifest::{self, LOAD_BALANCERS, MAX_VERSION_HISTORY, Stability};
use crate::engine::manifests::{self, bound_artifact, connect, run_artifacts};
use crate::engine::server_groups::running;
use crate::engine::stage_forms as F;
use crate::engine::tasks::TaskResult;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageMoniker {
    #[serde(default)]
    pub app: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficOptions {
    #[serde(default)]
    pub enable_traffic: bool,
    /// `service web`.
    #[serde(default)]
    pub services: Vec<String>,
    /// `none`, `redblack` or `highlander`.
    #[serde(default)]
    pub strategy: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficManagement {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub options: TrafficOptions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployManifestStage {
    pub account: String,
    /// `text` (the stage's `manifests`) or `artifact`.
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub manifests: Vec<Value>,
    #[serde(default)]
    pub manifest_artifact_id: String,
    #[serde(default)]
    pub manifest_artifact: Option<Artifact>,
    #[serde(default)]
    pub moniker: StageMoniker,
    #[serde(default)]
    pub namespace_override: String,
    #[serde(default)]
    pub required_artifact_ids: Vec<String>,
    #[serde(default)]
    pub required_artifacts: Vec<Value>,
    #[serde(default)]
    pub traffic_management: TrafficManagement,
    #[serde(flatten)]
    pub extra: Extra,
}

/// What the deploy task applied, for the tasks after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployed {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    /// Versioned manifests: the name without its version, and the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioned: Option<(String, u32)>,
}

pub const DEPLOYED: &str = "deployedManifests";
/// A digest of the manifest as gennaker sent it, to tell whether a new version is needed
/// (the server's copy has defaults filled in, so it cannot be compared).
const DIGEST: &str = "gennaker.io/manifest-digest";
const STRATEGIES: &[&str] = &["", "none", "redblack", "highlander"];

pub struct DeployManifest;

impl DeployManifestStage {
    fn reads_an_artifact(&self) -> bool {
        self.source == "artifact" || (self.manifests.is_empty() && (!self.manifest_artifact_id.is_empty() || self.manifest_artifact.is_some()))
    }
}

#[async_trait]
impl StageType for DeployManifest {
    fn type_name(&self) -> &'static str {
        "deployManifest"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "deployManifest",
            "Deploy (Manifest)",
            "Applies Kubernetes manifests and waits until they are stable; ReplicaSets are versioned, and traffic management moves Services to the new version red/black or highlander.",
            vec![
                Field::new("account", "Account", Input::Text, "The Kubernetes account."),
                Field::new("namespaceOverride", "Namespace", Input::Text, "Deploy every manifest to this namespace (default: each manifest's own, else the account's)."),
                Field::new("source", "Manifest source", choices(&[("text", "Text"), ("artifact", "Artifact")]), ""),
                Field::new("manifests", "Manifests", Input::Manifests, "YAML (documents separated by ---) or JSON.").when("source", "text"),
                Field::new("manifestArtifactId", "Manifest artifact", Input::Text, "The id of a bound expected artifact holding the manifests.").when("source", "artifact"),
                Field::new("skipExpressionEvaluation", "Skip expression evaluation", Input::Check, "Leave ${...} in the manifests as written."),
                Field::new("trafficManagement.enabled", "Manage traffic", Input::Check, "Send a versioned ReplicaSet's Services' traffic to it."),
                Field::new("trafficManagement.options.services", "Services", Input::Lines, "One per line, e.g. service web.").when("trafficManagement.enabled", "true"),
                Field::new("trafficManagement.options.enableTraffic", "Send traffic", Input::Check, "Send traffic to the new version as soon as its pods are ready.")
                    .when("trafficManagement.enabled", "true"),
                Field::new("trafficManagement.options.strategy", "Strategy", choices(&[("none", "None"), ("redblack", "Red/Black"), ("highlander", "Highlander")]), "What happens to older versions once the new one is stable.")
                    .when("trafficManagement.enabled", "true"),
            ],
            json!({"cloudProvider": "kubernetes", "account": "", "source": "text", "moniker": {"app": application}, "manifests": [],
                "trafficManagement": {"enabled": false, "options": {"enableTraffic": true, "services": [], "strategy": "redblack"}}}),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["deployManifest", "waitForManifestStable", "cleanUpArtifacts"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let deploy: DeployManifestStage = super::parse(config)?;
        if deploy.account.is_empty() {
            return Err(("account".into(), "name the Kubernetes account".into()));
        }
        if deploy.reads_an_artifact() {
            if deploy.manifest_artifact_id.is_empty() && deploy.manifest_artifact.is_none() {
                return Err(("manifestArtifactId".into(), "name the artifact holding the manifests".into()));
            }
        } else {
            manifest::check(&manifest::expand_lists(deploy.manifests.clone())).map_err(|e| ("manifests".to_string(), e.to_string()))?;
        }
        let traffic = &deploy.traffic_management;
        if traffic.enabled {
            if !STRATEGIES.contains(&traffic.options.strategy.as_str()) {
                return Err(("trafficManagement.options.strategy".into(), "one of none, redblack, highlander".into()));
            }
            if traffic.options.services.is_empty() {
                return Err(("trafficManagement.options.services".into(), "name the services (`service web`) whose traffic moves".into()));
            }
            for service in &traffic.options.services {
                if !super::has_expression(service) {
                    manifest::split_manifest_name(service).map_err(|e| ("trafficManagement.options.services".to_string(), e.to_string()))?;
                }
            }
            let others: Vec<&str> = deploy
                .manifests
                .iter()
                .map(manifest::kind)
                .filter(|kind| matches!(*kind, "Deployment" | "StatefulSet" | "DaemonSet" | "Pod" | "Job" | "CronJob"))
                .collect();
            if let Some(kind) = others.first() {
                return Err(("trafficManagement".into(), format!("traffic management moves Services between versions of ReplicaSets; a {kind} cannot take part")));
            }
        }
        Ok(())
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<DeployManifestStage>(config).map(|deploy| vec![deploy.account]).unwrap_or_default()
    }

    /// The application its moniker names, when another than the pipeline's (checked at save
    /// and when it runs, as for server groups of another application).
    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        config.pointer("/moniker/app").and_then(Value::as_str).filter(|app| !app.is_empty()).map(|app| vec![app.to_string()]).unwrap_or_default()
    }

    fn cannot_run(&self, config: &Value) -> Option<String> {
        kubernetes_only(config).or_else(|| unfinished(config)).or_else(|| {
            let from_artifact = config.get("source").and_then(Value::as_str) == Some("artifact");
            let manifests = config.get("manifests").and_then(Value::as_array);
            if from_artifact {
                let chosen = config.get("manifestArtifactId").and_then(Value::as_str).is_some_and(|id| !id.is_empty()) || config.get("manifestArtifact").is_some_and(Value::is_object);
                (!chosen).then(|| "its manifest artifact is not chosen (manifestArtifactId)".to_string())
            } else if manifests.is_none_or(|manifests| manifests.is_empty()) {
                Some("it has no manifests".to_string())
            } else {
                manifests.into_iter().flatten().position(|manifest| manifest.as_object().is_none_or(|object| object.is_empty())).map(|index| format!("its manifest {index} is empty"))
            }
        })
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: DeployManifestStage = config_or_fail!(task.stage);
        let outcome = match task.index {
            0 => deploy(task, &config).await,
            1 => wait_stable(task, &config).await,
            _ => clean_up(task, &config).await,
        };
        outcome.unwrap_or_else(failed)
    }
}

/// A manifest stage saved before anyone chose its account (Spinnaker keeps such pipelines):
/// kept with a warning, refused when started.
pub fn unfinished(config: &Value) -> Option<String> {
    config.get("account").and_then(Value::as_str).is_none_or(str::is_empty).then(|| "it names no Kubernetes account".to_string())
}

/// Manifest stages act on Kubernetes accounts: a stage aimed at another provider cannot run.
pub fn kubernetes_only(config: &Value) -> Option<String> {
    let provider = config.get("cloudProvider").and_then(Value::as_str).unwrap_or("kubernetes");
    (provider != "kubernetes" && !super::has_expression(provider)).then(|| format!("manifest stages act on kubernetes accounts, not {provider:?}"))
}

async fn deploy(task: Task<'_>, config: &DeployManifestStage) -> Result<Step, String> {
    let connection = connect(task.effects, &config.account).await?;
    let application = if config.moniker.app.is_empty() { task.execution.application.clone() } else { config.moniker.app.clone() };
    let mut manifests = if config.reads_an_artifact() {
        manifests::manifests_from_artifact(task.effects, task.execution, &config.manifest_artifact_id, config.manifest_artifact.as_ref()).await?
    } else {
        manifest::expand_lists(config.manifests.clone())
    };
    manifest::check(&manifests).map_err(|e| e.to_string())?;
    let mut artifacts = run_artifacts(task.execution);
    let mut required = Vec::new();
    for id in &config.required_artifact_ids {
        let artifact = bound_artifact(task.execution, id)?;
        if !artifacts.contains(&artifact) {
            artifacts.insert(0, artifact.clone());
        }
        required.push(artifact);
    }
    // As Spinnaker does: what others depend on first (namespaces, then definitions, accounts
    // and config, then services), workloads last.
    manifests.sort_by_key(|manifest| manifest::apply_order(manifest::kind(manifest)));
    let traffic = &config.traffic_management;
    let traffic_labels = if traffic.enabled && traffic.options.enable_traffic {
        traffic_selectors(&connection, config, &manifests).await?
    } else {
        BTreeMap::new()
    };

    let mut bound: Vec<Artifact> = Vec::new();
    let mut applied: Vec<Value> = Vec::new();
    let mut deployed: Vec<Deployed> = Vec::new();
    let mut created: Vec<Value> = Vec::new();
    let mut names_by_namespace: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for manifest in &mut manifests {
        let api_version = manifest::api_version(manifest).to_string();
        let kind = manifest::kind(manifest).to_string();
        let resource = connection.resource(&api_version, &kind).await.map_err(|e| e.to_string())?;
        let namespace = if !resource.namespaced {
            String::new()
        } else if !config.namespace_override.is_empty() {
            config.namespace_override.clone()
        } else if !manifest::namespace(manifest).is_empty() {
            manifest::namespace(manifest).to_string()
        } else {
            connection.default_namespace.clone()
        };
        if resource.namespaced {
            connection.check_namespace(&namespace).map_err(|e| e.to_string())?;
            manifest["metadata"]["namespace"] = json!(namespace);
        }
        manifest::fill_default_protocols(manifest);
        for artifact in manifest::bind_images(manifest, &artifacts) {
            if !bound.contains(&artifact) {
                bound.push(artifact);
            }
        }
        if traffic.enabled && kind == "ReplicaSet" {
            manifest["metadata"]["annotations"][LOAD_BALANCERS] = json!(serde_json::to_string(&traffic.options.services).expect("names serialize"));
            if let Some(labels) = ensure_object(manifest, &["spec", "template", "metadata", "labels"]) {
                for (key, value) in &traffic_labels {
                    labels.insert(key.clone(), json!(value));
                }
            }
        }
        let base_name = manifest::name(manifest).to_string();
        let versioned = manifest::is_versioned(manifest) && !base_name.is_empty();
        let version = if versioned {
            manifest::annotate(manifest, &application, &namespace, &base_name, None);
            let digest = digest_of(manifest);
            let versions = manifests::versions_of(&connection, &resource, &namespace, &base_name).await?;
            let version = match versions.last() {
                Some((last, object)) if manifest::annotations(object).get(DIGEST) == Some(&digest) => *last,
                Some((last, _)) => last + 1,
                None => 0,
            };
            manifest["metadata"]["annotations"][DIGEST] = json!(digest);
            manifest["metadata"]["name"] = json!(manifest::versioned_name(&base_name, version));
            manifest::annotate(manifest, &application, &namespace, &base_name, Some(version));
            Some(version)
        } else {
            manifest::annotate(manifest, &application, &namespace, &base_name, None);
            None
        };
        let existing = match manifest::name(manifest) {
            "" => None,
            name => connection.get(&resource, &namespace, name).await.map_err(|e| e.to_string())?,
        };
        if let Some(existing) = existing {
            manifests::require_owner_write(task.effects, task.execution, &existing).await?;
        }
        let result = connection.apply(manifest, &namespace).await.map_err(|e| format!("{kind} {base_name}: {e}"))?;
        let name = manifest::name(&result).to_string();
        names_by_namespace.entry(namespace.clone()).or_default().push(manifest::manifest_name(&kind, &name));
        created.push(json!({"type": format!("kubernetes/{}", manifest::lower_camel(&kind)), "name": base_name, "reference": name,
            "location": namespace, "version": version.map(|v| format!("v{v:03}")).unwrap_or_default()}));
        deployed.push(Deployed { api_version, kind, name, namespace, versioned: version.map(|v| (base_name.clone(), v)) });
        applied.push(without_managed_fields(result));
    }
    let unbound: Vec<String> = required.iter().filter(|artifact| artifact.kind == "docker/image" && !bound.contains(artifact)).map(|a| a.reference.clone()).collect();
    if !unbound.is_empty() {
        return Err(format!("required artifacts were not bound into any manifest (no container runs these images): {}", unbound.join(", ")));
    }
    let mut outputs = BTreeMap::new();
    outputs.insert("outputs.manifests".into(), Value::Array(applied));
    outputs.insert("outputs.manifestNamesByNamespace".into(), json!(names_by_namespace));
    outputs.insert("manifestNamesByNamespace".into(), json!(names_by_namespace));
    outputs.insert("outputs.boundArtifacts".into(), json!(bound));
    outputs.insert("outputs.createdArtifacts".into(), Value::Array(created));
    outputs.insert("deploy.account.name".into(), json!(config.account));
    outputs.insert(DEPLOYED.into(), json!(deployed));
    Ok(succeeded(outputs))
}

/// The selector labels of the services a traffic-managed deploy sends traffic through: of a
/// Service deployed by this same stage, else of the one in the cluster.
async fn traffic_selectors(connection: &crate::cloud::kubernetes::Connection, config: &DeployManifestStage, manifests: &[Value]) -> Result<BTreeMap<String, String>, String> {
    let namespace = if !config.namespace_override.is_empty() {
        config.namespace_override.clone()
    } else {
        manifests.iter().map(manifest::namespace).find(|namespace| !namespace.is_empty()).unwrap_or(&connection.default_namespace).to_string()
    };
    let mut labels = BTreeMap::new();
    let mut elsewhere = Vec::new();
    for service in &config.traffic_management.options.services {
        let (_, name) = manifest::split_manifest_name(service).map_err(|e| e.to_string())?;
        let here = manifests.iter().find(|candidate| manifest::kind(candidate) == "Service" && manifest::name(candidate) == name);
        match here {
            Some(found) => {
                let selector = manifest::string_map(found.pointer("/spec/selector"));
                if selector.is_empty() {
                    return Err(format!("service {name} has no selector, so gennaker cannot steer its traffic"));
                }
                labels.extend(selector);
            }
            None => elsewhere.push(service.clone()),
        }
    }
    labels.extend(manifests::service_selectors(connection, &namespace, &elsewhere).await?);
    Ok(labels)
}

fn ensure_object<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut current = value;
    for key in path {
        let object = current.as_object_mut()?;
        current = object.entry(key.to_string()).or_insert_with(|| json!({}));
        if current.is_null() {
            *current = json!({});
        }
    }
    current.as_object_mut()
}

fn digest_of(manifest: &Value) -> String {
    use sha2::Digest;
    let fingerprint = manifest::version_fingerprint(manifest);
    let digest = sha2::Sha256::digest(serde_json::to_vec(&fingerprint).expect("a manifest serializes"));
    format!("{digest:x}")[..16].to_string()
}

/// The server's bookkeeping of who set which field: large, and of no use in a stage's outputs.
pub fn without_managed_fields(mut object: Value) -> Value {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    object
}

pub fn deployed_of(task: &Task<'_>) -> Vec<Deployed> {
    task.stage.outputs.get(DEPLOYED).cloned().and_then(|value| serde_json::from_value(value).ok()).unwrap_or_default()
}

async fn wait_stable(task: Task<'_>, config: &DeployManifestStage) -> Result<Step, String> {
    let connection = connect(task.effects, &config.account).await?;
    wait_until_stable(&connection, &deployed_of(&task)).await
}

/// Waits until every deployed manifest is stable; fails when one will not become stable. The
/// stage's context keeps each manifest's status for its page.
pub async fn wait_until_stable(connection: &crate::cloud::kubernetes::Connection, deployed: &[Deployed]) -> Result<Step, String> {
    let mut statuses = Vec::new();
    let mut waiting = false;
    for item in deployed {
        let resource = connection.resource(&item.api_version, &item.kind).await.map_err(|e| e.to_string())?;
        let label = manifest::manifest_name(&item.kind, &item.name);
        let Some(object) = connection.get(&resource, &item.namespace, &item.name).await.map_err(|e| e.to_string())? else {
            return Err(format!("{label} in {} is gone", item.namespace));
        };
        let (status, message) = match manifest::stability(&object) {
            Stability::Stable => ("stable", String::new()),
            Stability::Waiting(why) => {
                waiting = true;
                ("waiting", why)
            }
            Stability::Failed(why) => return Err(format!("{label} in {} will not become stable: {why}", item.namespace)),
        };
        statuses.push(json!({"manifest": label, "namespace": item.namespace, "status": status, "message": message}));
    }
    let mut context = Map::new();
    context.insert("manifestStatuses".into(), Value::Array(statuses));
    if waiting {
        let (result, _) = running();
        return Ok((result, context));
    }
    Ok((TaskResult::Succeeded { outputs: BTreeMap::new() }, context))
}

/// After a stable deploy: older versions of a traffic-managed ReplicaSet leave its Services
/// (red/black) or are deleted (highlander), and versions past a manifest's
/// `strategy.spinnaker.io/max-version-history` are deleted, oldest first.
async fn clean_up(task: Task<'_>, config: &DeployManifestStage) -> Result<Step, String> {
    let connection = connect(task.effects, &config.account).await?;
    let strategy = config.traffic_management.options.strategy.as_str();
    let mut disabled = Vec::new();
    let mut deleted = Vec::new();
    for item in deployed_of(&task) {
        let Some((base_name, version)) = &item.versioned else { continue };
        let resource = connection.resource(&item.api_version, &item.kind).await.map_err(|e| e.to_string())?;
        let versions = manifests::versions_of(&connection, &resource, &item.namespace, base_name).await?;
        let older: Vec<&Value> = versions.iter().filter(|(other, _)| other < version).map(|(_, object)| object).collect();
        if config.traffic_management.enabled && item.kind == "ReplicaSet" && matches!(strategy, "redblack" | "highlander") {
            for old in &older {
                if manifest::annotations(old).contains_key(LOAD_BALANCERS) {
                    manifests::set_traffic(&connection, &resource, &item.namespace, old, false).await?;
                    disabled.push(manifest::manifest_name(&item.kind, manifest::name(old)));
                }
                if strategy == "highlander" {
                    connection.delete(&resource, &item.namespace, manifest::name(old), true, None).await.map_err(|e| e.to_string())?;
                    deleted.push(manifest::manifest_name(&item.kind, manifest::name(old)));
                }
            }
        }
        let current = versions.iter().find(|(other, _)| other == version).map(|(_, object)| object);
        let keep = current.and_then(|object| manifest::annotations(object).get(MAX_VERSION_HISTORY).and_then(|n| n.parse::<usize>().ok()));
        if let Some(keep) = keep.filter(|keep| *keep > 0) {
            let surplus = versions.len().saturating_sub(keep);
            for (other, old) in versions.iter().filter(|(other, _)| other != version).take(surplus) {
                let name = manifest::versioned_name(base_name, *other);
                let label = manifest::manifest_name(&item.kind, &name);
                if !deleted.contains(&label) {
                    connection.delete(&resource, &item.namespace, manifest::name(old), true, None).await.map_err(|e| e.to_string())?;
                    deleted.push(label);
                }
            }
        }
    }
    let mut outputs = BTreeMap::new();
    outputs.insert("disabledManifests".into(), json!(disabled));
    outputs.insert("deletedManifests".into(), json!(deleted));
    Ok(succeeded(outputs))
}
