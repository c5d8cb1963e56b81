//! `findArtifactsFromResource`: reads one Kubernetes object (by `manifestName`, or chosen from a
//! `cluster` by `criteria`) and gives what it refers to as Spinnaker artifacts, as Orca's
//! `FindArtifactsFromResourceTask` with Clouddriver's `ArtifactReplacer.findAll` does: each
//! container image as `docker/image` (name without the tag, reference the whole image, version
//! the tag), and the ConfigMaps and Secrets its pods use (volumes, projected volumes, `env`,
//! `envFrom`) as `kubernetes/configMap` and `kubernetes/secret` (a versioned one, `config-v002`,
//! named `config` with version `v002`); a HorizontalPodAutoscaler's target as
//! `kubernetes/deployment` or `kubernetes/replicaSet`.
//!
//! Outputs, also set in the stage's context as Orca sets them (pipelines read
//! `#stage('Get Info').context.artifacts`): `artifacts` and `manifest` (the object as the API
//! server returned it). Later stages' expressions read them (`${artifacts.^[type ==
//! 'docker/image'].reference}`). The stage only reads: its account needs READ, not WRITE.

use std::collections::BTreeMap;

use app::model::artifact::Artifact;
use app::model::pipeline::Extra;
use app::model::stage_types::StageTypeInfo;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::deploy_manifest::{kubernetes_only, without_managed_fields};
use super::scale_manifest::{target_defaults, target_fields};
use super::{StageType, Step, Task, config_or_fail, failed};
use crate::cloud::kubernetes::manifest;
use crate::engine::manifests::{ManifestTarget, connect};
use crate::engine::stage_forms as F;
use crate::engine::tasks::TaskResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindArtifactsFromResourceStage {
    #[serde(flatten)]
    pub target: ManifestTarget,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct FindArtifactsFromResource;

#[async_trait]
impl StageType for FindArtifactsFromResource {
    fn type_name(&self) -> &'static str {
        "findArtifactsFromResource"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "findArtifactsFromResource",
            "Find Artifacts From Resource (Manifest)",
            "Reads a Kubernetes object and gives its container images, ConfigMaps and Secrets as artifacts for later stages (e.g. ${artifacts.^[type == 'docker/image'].reference}).",
            target_fields(),
            target_defaults(application, json!({"mode": "static"})),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["findArtifactsFromResource"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<FindArtifactsFromResourceStage>(config)?.target.validate()
    }

    /// It only reads the account (Spinnaker reads it through Clouddriver, which asks READ).
    fn accounts_read(&self, config: &Value) -> Vec<String> {
        super::parse::<FindArtifactsFromResourceStage>(config).map(|stage| vec![stage.target.account]).unwrap_or_default()
    }

    fn cannot_run(&self, config: &Value) -> Option<String> {
        kubernetes_only(config).or_else(|| super::deploy_manifest::unfinished(config))
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: FindArtifactsFromResourceStage = config_or_fail!(task.stage);
        let outcome = async {
            let connection = connect(task.effects, &config.target.account).await?;
            let (resource, namespace, name) = config.target.resolve(&connection, &task.execution.application).await?;
            let label = manifest::manifest_name(&resource.api.kind, &name);
            let object = connection
                .get(&resource, &namespace, &name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("manifest {label} not found in {namespace}"))?;
            let artifacts = artifacts_of(&object, &namespace);
            let mut context = Map::new();
            context.insert("manifest".into(), without_managed_fields(object));
            context.insert("artifacts".into(), json!(artifacts));
            context.insert("manifestName".into(), json!(label));
            let outputs: BTreeMap<String, Value> = context.clone().into_iter().collect();
            Ok::<Step, String>((TaskResult::Succeeded { outputs }, context))
        };
        outcome.await.unwrap_or_else(failed)
    }
}

/// The JSON pointers of an object's pod specs (workloads, Jobs, CronJobs, Pods).
fn pod_specs(object: &Value) -> Vec<&Value> {
    let pointer = match manifest::kind(object) {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    };
    object.pointer(pointer).into_iter().collect()
}

fn strings_at<'a>(items: Option<&'a Value>, pointer: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    items.and_then(Value::as_array).into_iter().flatten().filter_map(move |item| item.pointer(pointer).and_then(Value::as_str))
}

/// A container image as a `docker/image` artifact: `registry:5000/shop/web:1.2` is named
/// `registry:5000/shop/web`, version `1.2` (a digest when there is no tag).
pub fn image_artifact(image: &str) -> Artifact {
    let name = manifest::image_name(image);
    let rest = &image[name.len()..];
    let version = match rest.strip_prefix(':') {
        Some(tag) => tag.split('@').next().unwrap_or_default(),
        None => rest.trim_start_matches('@'),
    };
    Artifact { kind: "docker/image".into(), name: name.to_string(), reference: image.to_string(), version: version.to_string(), ..Default::default() }
}

/// A ConfigMap, Secret or workload an object refers to, in `namespace`; a versioned name
/// (`config-v002`) is the artifact `config` at version `v002`, as gennaker deploys them.
fn kubernetes_artifact(kind: &str, reference: &str, namespace: &str) -> Artifact {
    let (name, version) = match manifest::parse_version(reference) {
        Some((base, version)) => (base.to_string(), format!("v{version:03}")),
        None => (reference.to_string(), String::new()),
    };
    Artifact { kind: format!("kubernetes/{kind}"), name, reference: reference.to_string(), version, location: namespace.to_string(), ..Default::default() }
}

/// What an object refers to, as artifacts (images first), each once.
pub fn artifacts_of(object: &Value, namespace: &str) -> Vec<Artifact> {
    let mut found: Vec<Artifact> = manifest::images(object).iter().map(|image| image_artifact(image)).collect();
    for spec in pod_specs(object) {
        let volumes = spec.get("volumes");
        let containers: Vec<&Value> = ["initContainers", "containers"].iter().filter_map(|list| spec.get(*list)).flat_map(|list| list.as_array().into_iter().flatten()).collect();
        let mut config_maps: Vec<&str> = strings_at(volumes, "/configMap/name").collect();
        let mut secrets: Vec<&str> = strings_at(volumes, "/secret/secretName").collect();
        for volume in volumes.and_then(Value::as_array).into_iter().flatten() {
            let sources = volume.pointer("/projected/sources");
            config_maps.extend(strings_at(sources, "/configMap/name"));
            secrets.extend(strings_at(sources, "/secret/name"));
        }
        for container in containers {
            config_maps.extend(strings_at(container.get("env"), "/valueFrom/configMapKeyRef/name"));
            secrets.extend(strings_at(container.get("env"), "/valueFrom/secretKeyRef/name"));
            config_maps.extend(strings_at(container.get("envFrom"), "/configMapRef/name"));
            secrets.extend(strings_at(container.get("envFrom"), "/secretRef/name"));
        }
        found.extend(config_maps.into_iter().map(|name| kubernetes_artifact("configMap", name, namespace)));
        found.extend(secrets.into_iter().map(|name| kubernetes_artifact("secret", name, namespace)));
    }
    if manifest::kind(object) == "HorizontalPodAutoscaler"
        && let (Some(kind), Some(name)) = (object.pointer("/spec/scaleTargetRef/kind").and_then(Value::as_str), object.pointer("/spec/scaleTargetRef/name").and_then(Value::as_str))
        && matches!(kind, "Deployment" | "ReplicaSet")
    {
        found.push(kubernetes_artifact(&manifest::lower_camel(kind), name, namespace));
    }
    let mut unique: Vec<Artifact> = Vec::new();
    for artifact in found {
        if !unique.contains(&artifact) {
            unique.push(artifact);
        }
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_config_maps_and_secrets_become_artifacts() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": {
            "initContainers": [{"name": "migrate", "image": "registry:5000/shop/web:1.4", "envFrom": [{"secretRef": {"name": "db"}}]}],
            "containers": [
                {"name": "web", "image": "registry:5000/shop/web:1.4", "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings-v002", "key": "mode"}}}]},
                {"name": "proxy", "image": "envoy@sha256:abc"}],
            "volumes": [{"name": "config", "configMap": {"name": "settings-v002"}}, {"name": "tls", "secret": {"secretName": "tls"}},
                {"name": "all", "projected": {"sources": [{"configMap": {"name": "extra"}}, {"secret": {"name": "db"}}]}}]}}}});
        let artifacts = artifacts_of(&deployment, "shop");
        let listed: Vec<(&str, &str, &str, &str)> = artifacts.iter().map(|a| (a.kind.as_str(), a.name.as_str(), a.reference.as_str(), a.version.as_str())).collect();
        assert_eq!(
            listed,
            vec![
                ("docker/image", "registry:5000/shop/web", "registry:5000/shop/web:1.4", "1.4"),
                ("docker/image", "envoy", "envoy@sha256:abc", "sha256:abc"),
                ("kubernetes/configMap", "settings", "settings-v002", "v002"),
                ("kubernetes/configMap", "extra", "extra", ""),
                ("kubernetes/secret", "tls", "tls", ""),
                ("kubernetes/secret", "db", "db", ""),
            ]
        );
        assert!(artifacts[2..].iter().all(|artifact| artifact.location == "shop"));
        let hpa = json!({"kind": "HorizontalPodAutoscaler", "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}}});
        assert_eq!(artifacts_of(&hpa, "shop")[0].kind, "kubernetes/deployment");
        assert!(artifacts_of(&json!({"kind": "Service", "spec": {}}), "shop").is_empty());
        let pod = json!({"kind": "Pod", "spec": {"containers": [{"name": "x", "image": "nginx"}]}});
        assert_eq!(artifacts_of(&pod, "shop")[0].version, "", "an image without a tag has no version");
    }

    #[test]
    fn it_reads_so_its_account_needs_read_only() {
        let stage = json!({"account": "k8s", "cloudProvider": "kubernetes", "location": "shop", "manifestName": "deployment web"});
        assert!(FindArtifactsFromResource.validate(&stage).is_ok());
        assert_eq!(FindArtifactsFromResource.accounts_read(&stage), vec!["k8s".to_string()]);
        assert!(FindArtifactsFromResource.accounts(&stage).is_empty());
        assert_eq!(FindArtifactsFromResource.validate(&json!({"account": "k8s", "manifestName": "web"})).unwrap_err().0, "manifestName");
        assert!(FindArtifactsFromResource.cannot_run(&json!({"cloudProvider": "kubernetes"})).is_some());
    }
}
