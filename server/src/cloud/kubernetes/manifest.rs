//! Kubernetes manifests as Spinnaker's Kubernetes provider treats them, on plain JSON values
//! (a manifest may be of any kind, custom ones included): reading YAML or JSON text, Spinnaker's
//! names (`deployment web`), its moniker and artifact annotations, versioned names (`-v001`),
//! binding image artifacts into containers, and whether an applied manifest is stable yet.
//! Everything here is pure, so the rules are tested without a cluster.

use std::collections::BTreeMap;

use app::model::artifact::Artifact;
use serde_json::{Map, Value, json};

pub use app::model::manifests::{Error, check, expand_lists, parse_text};

pub const APPLICATION: &str = "moniker.spinnaker.io/application";
pub const CLUSTER: &str = "moniker.spinnaker.io/cluster";
pub const SEQUENCE: &str = "moniker.spinnaker.io/sequence";
pub const ARTIFACT_NAME: &str = "artifact.spinnaker.io/name";
pub const ARTIFACT_TYPE: &str = "artifact.spinnaker.io/type";
pub const ARTIFACT_LOCATION: &str = "artifact.spinnaker.io/location";
pub const ARTIFACT_VERSION: &str = "artifact.spinnaker.io/version";
pub const VERSIONED: &str = "strategy.spinnaker.io/versioned";
pub const MAX_VERSION_HISTORY: &str = "strategy.spinnaker.io/max-version-history";
/// The services (`["service web"]`) whose traffic a workload takes (Spinnaker's annotation).
pub const LOAD_BALANCERS: &str = "traffic.spinnaker.io/load-balancers";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

pub fn api_version(manifest: &Value) -> &str {
    manifest.get("apiVersion").and_then(Value::as_str).unwrap_or_default()
}

pub fn kind(manifest: &Value) -> &str {
    manifest.get("kind").and_then(Value::as_str).unwrap_or_default()
}

pub fn name(manifest: &Value) -> &str {
    manifest.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

pub fn namespace(manifest: &Value) -> &str {
    manifest.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default()
}

pub fn annotations(manifest: &Value) -> BTreeMap<String, String> {
    string_map(manifest.pointer("/metadata/annotations"))
}

pub fn labels(manifest: &Value) -> BTreeMap<String, String> {
    string_map(manifest.pointer("/metadata/labels"))
}

pub fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|map| map.iter().filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// Spinnaker's kind names: `Deployment` is `deployment`, `ReplicaSet` is `replicaSet`.
pub fn lower_camel(kind: &str) -> String {
    let mut chars = kind.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `deployment web` for a Deployment named `web`.
pub fn manifest_name(kind: &str, name: &str) -> String {
    format!("{} {name}", lower_camel(kind))
}

/// The kind (as written, any case) and name of `deployment web` (also `deployment/web`).
pub fn split_manifest_name(text: &str) -> Result<(String, String), Error> {
    let trimmed = text.trim();
    let (kind, name) = trimmed.split_once(' ').or_else(|| trimmed.split_once('/')).ok_or_else(|| Error::Name(text.to_string()))?;
    let (kind, name) = (kind.trim(), name.trim());
    if kind.is_empty() || name.is_empty() || name.contains(' ') {
        return Err(Error::Name(text.to_string()));
    }
    Ok((kind.to_string(), name.to_string()))
}

/// A kind as the API names it (`Deployment`) from Spinnaker's (`deployment`, `replicaSet`) or
/// the plural resource (`deployments`), for the kinds gennaker knows; others are taken as
/// written with the first letter raised.
pub fn canonical_kind(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    let known = KNOWN_KINDS.iter().find(|(api_kind, _, plural)| api_kind.to_ascii_lowercase() == lower || *plural == lower);
    match known {
        Some((api_kind, _, _)) => (*api_kind).to_string(),
        None => {
            let mut chars = kind.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
    }
}

/// Kinds gennaker knows by name: kind, apiVersion, plural resource.
pub const KNOWN_KINDS: &[(&str, &str, &str)] = &[
    ("Deployment", "apps/v1", "deployments"),
    ("ReplicaSet", "apps/v1", "replicasets"),
    ("StatefulSet", "apps/v1", "statefulsets"),
    ("DaemonSet", "apps/v1", "daemonsets"),
    ("Pod", "v1", "pods"),
    ("Service", "v1", "services"),
    ("ConfigMap", "v1", "configmaps"),
    ("Secret", "v1", "secrets"),
    ("ServiceAccount", "v1", "serviceaccounts"),
    ("Namespace", "v1", "namespaces"),
    ("PersistentVolumeClaim", "v1", "persistentvolumeclaims"),
    ("Job", "batch/v1", "jobs"),
    ("CronJob", "batch/v1beta1", "cronjobs"),
    ("Ingress", "networking.k8s.io/v1", "ingresses"),
    ("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies"),
    ("HorizontalPodAutoscaler", "autoscaling/v1", "horizontalpodautoscalers"),
    ("Event", "v1", "events"),
    ("Role", "rbac.authorization.k8s.io/v1", "roles"),
    ("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings"),
];

/// Where a kind goes when several manifests are applied together: what others need first
/// (namespaces, resource definitions, accounts and roles, configuration, services), workloads
/// last; the same order as Spinnaker's deploy priorities.
pub fn apply_order(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "ServiceAccount" | "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => 2,
        "ConfigMap" | "Secret" | "PersistentVolumeClaim" | "PersistentVolume" | "StorageClass" => 3,
        "Service" | "NetworkPolicy" => 4,
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Pod" | "Job" | "CronJob" => 6,
        _ => 5,
    }
}

/// The apiVersion of a kind gennaker knows (for `deployment web` without a manifest).
pub fn api_version_of(kind: &str) -> Option<&'static str> {
    let kind = canonical_kind(kind);
    KNOWN_KINDS.iter().find(|(api_kind, _, _)| *api_kind == kind).map(|(_, api_version, _)| *api_version)
}

/// Whether deploying this manifest makes a new version (`web-v001`) rather than changing the
/// object in place. As Spinnaker: ReplicaSets, ConfigMaps, Secrets and bare Pods are, unless
/// annotated `strategy.spinnaker.io/versioned: "false"`; anything annotated `"true"` is.
pub fn is_versioned(manifest: &Value) -> bool {
    match annotations(manifest).get(VERSIONED).map(String::as_str) {
        Some("true") => true,
        Some("false") => false,
        _ => matches!(kind(manifest), "ReplicaSet" | "ConfigMap" | "Secret" | "Pod"),
    }
}

/// `web-v003`.
pub fn versioned_name(base: &str, version: u32) -> String {
    format!("{base}-v{version:03}")
}

/// The version of a versioned name (`web-v003` is 3 of `web`).
pub fn parse_version(name: &str) -> Option<(&str, u32)> {
    let (base, version) = name.rsplit_once("-v")?;
    if version.len() < 3 || !version.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((base, version.parse().ok()?))
}

/// What a versioned manifest is compared by to decide whether deploying it again makes a new
/// version: everything but its name, status and what the server sets.
pub fn version_fingerprint(manifest: &Value) -> Value {
    let mut copy = manifest.clone();
    if let Some(object) = copy.as_object_mut() {
        object.remove("status");
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            let labels = metadata.get("labels").cloned();
            let annotations: Map<String, Value> = metadata
                .get("annotations")
                .and_then(Value::as_object)
                .map(|map| {
                    map.iter()
                        .filter(|(key, _)| {
                            !matches!(key.as_str(), ARTIFACT_VERSION | SEQUENCE) && !key.starts_with("kubectl.kubernetes.io/")
                        })
                        .map(|(key, value)| (key.clone(), value.clone()))
                        .collect()
                })
                .unwrap_or_default();
            metadata.clear();
            if let Some(labels) = labels {
                metadata.insert("labels".into(), labels);
            }
            metadata.insert("annotations".into(), Value::Object(annotations));
        }
    }
    copy
}

/// Sets the annotations and labels Spinnaker sets on what it deploys: the moniker
/// (application, cluster), the artifact (name, type, location, version) and
/// `app.kubernetes.io/managed-by`. `version` is set for versioned manifests. The cluster is
/// `deployment web` (the manifest's own name) unless the manifest already names one.
pub fn annotate(manifest: &mut Value, application: &str, namespace: &str, base_name: &str, version: Option<u32>) {
    let kind_name = kind(manifest).to_string();
    let object = manifest.as_object_mut().expect("checked: manifests are objects");
    let metadata = object.entry("metadata").or_insert_with(|| json!({})).as_object_mut().expect("metadata is an object");
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    let annotations = annotations.as_object_mut().expect("set above");
    annotations.insert(APPLICATION.into(), json!(application));
    annotations.entry(CLUSTER).or_insert_with(|| json!(manifest_name(&kind_name, base_name)));
    annotations.insert(ARTIFACT_NAME.into(), json!(base_name));
    annotations.insert(ARTIFACT_TYPE.into(), json!(format!("kubernetes/{}", lower_camel(&kind_name))));
    annotations.insert(ARTIFACT_LOCATION.into(), json!(namespace));
    if let Some(version) = version {
        annotations.insert(ARTIFACT_VERSION.into(), json!(format!("v{version:03}")));
        annotations.insert(SEQUENCE.into(), json!(version.to_string()));
    }
    let labels = metadata.entry("labels").or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    let labels = labels.as_object_mut().expect("set above");
    labels.entry(MANAGED_BY).or_insert_with(|| json!("gennaker"));
    labels.entry("app.kubernetes.io/name").or_insert_with(|| json!(application));
    // The pod template carries the moniker too, so pods are found by application.
    if let Some(template) = pod_template_metadata(manifest) {
        let template_annotations = template.entry("annotations").or_insert_with(|| json!({}));
        if let Some(template_annotations) = template_annotations.as_object_mut() {
            template_annotations.insert(APPLICATION.into(), json!(application));
        }
    }
}

/// Writes out `protocol: TCP` where a Service's or a container's port leaves it to the default.
/// Same meaning, but server-side apply on older API servers (1.20) refuses a port list whose
/// key (port, protocol) misses the protocol.
pub fn fill_default_protocols(manifest: &mut Value) {
    fn fill(ports: Option<&mut Value>) {
        for port in ports.and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(port) = port.as_object_mut() {
                port.entry("protocol").or_insert_with(|| json!("TCP"));
            }
        }
    }
    if kind(manifest) == "Service" {
        fill(manifest.pointer_mut("/spec/ports"));
        return;
    }
    for pointer in pod_spec_pointers(manifest) {
        let Some(spec) = manifest.pointer_mut(pointer) else { continue };
        for list in ["containers", "initContainers"] {
            for container in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
                fill(container.get_mut("ports"));
            }
        }
    }
}

/// The pod template's metadata of a workload (`spec.template.metadata`), made if missing.
fn pod_template_metadata(manifest: &mut Value) -> Option<&mut Map<String, Value>> {
    let template = manifest.pointer_mut("/spec/template")?.as_object_mut()?;
    template.entry("metadata").or_insert_with(|| json!({})).as_object_mut()
}

/// The JSON pointers of a manifest's pod specs (workloads, Jobs, CronJobs, Pods).
fn pod_spec_pointers(manifest: &Value) -> Vec<&'static str> {
    match kind(manifest) {
        "Pod" => vec!["/spec"],
        "CronJob" => vec!["/spec/jobTemplate/spec/template/spec"],
        _ => vec!["/spec/template/spec"],
    }
}

/// The image name without its tag or digest: `registry:5000/shop/web:1.2` is `registry:5000/shop/web`.
pub fn image_name(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rsplit_once(':') {
        // A colon after the last slash is a tag; before it, a registry's port.
        Some((name, tag)) if !tag.contains('/') => name,
        _ => without_digest,
    }
}

/// Replaces each container image whose name matches a `docker/image` artifact's name with the
/// artifact's reference (Spinnaker binds a Docker trigger's image this way); returns the
/// artifacts it bound.
pub fn bind_images(manifest: &mut Value, artifacts: &[Artifact]) -> Vec<Artifact> {
    let images: Vec<&Artifact> = artifacts.iter().filter(|artifact| artifact.kind == "docker/image" && !artifact.reference.is_empty()).collect();
    let mut bound = Vec::new();
    for pointer in pod_spec_pointers(manifest) {
        let Some(spec) = manifest.pointer_mut(pointer) else { continue };
        for list in ["containers", "initContainers"] {
            let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else { continue };
            for container in containers {
                let Some(image) = container.get("image").and_then(Value::as_str) else { continue };
                let name = image_name(image).to_string();
                let wanted = images.iter().find(|artifact| {
                    let artifact_name = if artifact.name.is_empty() { image_name(&artifact.reference) } else { artifact.name.as_str() };
                    artifact_name == name
                });
                if let Some(artifact) = wanted {
                    container["image"] = json!(artifact.reference);
                    if !bound.contains(*artifact) {
                        bound.push((*artifact).clone());
                    }
                }
            }
        }
    }
    bound
}

/// The images a manifest's containers run.
pub fn images(manifest: &Value) -> Vec<String> {
    pod_spec_pointers(manifest)
        .into_iter()
        .filter_map(|pointer| manifest.pointer(pointer))
        .flat_map(|spec| ["containers", "initContainers"].into_iter().filter_map(|list| spec.get(list).and_then(Value::as_array)))
        .flatten()
        .filter_map(|container| container.get("image").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// Where an applied manifest is on its way to stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stability {
    Stable,
    /// Still rolling out; why, as the user reads it.
    Waiting(String),
    /// It will not become stable (a rollout past its progress deadline, a failed Job).
    Failed(String),
}

fn int(value: &Value, pointer: &str) -> i64 {
    value.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn condition<'a>(manifest: &'a Value, kind: &str) -> Option<&'a Value> {
    manifest.pointer("/status/conditions")?.as_array()?.iter().find(|condition| condition.get("type").and_then(Value::as_str) == Some(kind))
}

fn condition_is(manifest: &Value, kind: &str, status: &str) -> bool {
    condition(manifest, kind).and_then(|c| c.get("status")).and_then(Value::as_str) == Some(status)
}

/// Whether a manifest as the API server returns it is stable, as Spinnaker's
/// `WaitForManifestStableTask` judges it: the controller has seen its latest generation and
/// every replica is updated and available; Jobs have completed; Pods are ready; other kinds
/// are stable once applied.
pub fn stability(manifest: &Value) -> Stability {
    let generation = int(manifest, "/metadata/generation");
    let observed = int(manifest, "/status/observedGeneration");
    let kind_name = kind(manifest);
    let seen = || {
        if manifest.pointer("/status/observedGeneration").is_some() && observed < generation {
            Some(Stability::Waiting(format!("waiting for the {kind_name} controller to see generation {generation}")))
        } else if manifest.pointer("/status/observedGeneration").is_none() && generation > 0 {
            Some(Stability::Waiting(format!("waiting for the {kind_name} controller")))
        } else {
            None
        }
    };
    match kind_name {
        "Deployment" => {
            if let Some(progressing) = condition(manifest, "Progressing")
                && progressing.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded")
            {
                let message = progressing.get("message").and_then(Value::as_str).unwrap_or("the rollout exceeded its progress deadline");
                return Stability::Failed(message.to_string());
            }
            if let Some(waiting) = seen() {
                return waiting;
            }
            let desired = manifest.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            let updated = int(manifest, "/status/updatedReplicas");
            let available = int(manifest, "/status/availableReplicas");
            let total = int(manifest, "/status/replicas");
            if updated < desired {
                Stability::Waiting(format!("{updated} of {desired} replicas updated"))
            } else if total > updated {
                Stability::Waiting(format!("{} old replicas pending termination", total - updated))
            } else if available < desired {
                Stability::Waiting(format!("{available} of {desired} updated replicas available"))
            } else {
                Stability::Stable
            }
        }
        "ReplicaSet" | "StatefulSet" => {
            if let Some(waiting) = seen() {
                return waiting;
            }
            let desired = manifest.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            let ready = int(manifest, "/status/readyReplicas");
            let total = int(manifest, "/status/replicas");
            if kind_name == "StatefulSet" {
                let current = manifest.pointer("/status/currentRevision");
                let update = manifest.pointer("/status/updateRevision");
                if update.is_some() && current != update && int(manifest, "/status/updatedReplicas") < desired {
                    return Stability::Waiting("waiting for the rolling update".into());
                }
            }
            if ready < desired || total < desired {
                Stability::Waiting(format!("{ready} of {desired} replicas ready"))
            } else {
                Stability::Stable
            }
        }
        "DaemonSet" => {
            if let Some(waiting) = seen() {
                return waiting;
            }
            let desired = int(manifest, "/status/desiredNumberScheduled");
            let ready = int(manifest, "/status/numberReady");
            let updated = int(manifest, "/status/updatedNumberScheduled");
            if ready < desired || updated < desired { Stability::Waiting(format!("{ready} of {desired} pods ready")) } else { Stability::Stable }
        }
        "Job" => {
            if condition_is(manifest, "Failed", "True") {
                let message = condition(manifest, "Failed").and_then(|c| c.get("message")).and_then(Value::as_str).unwrap_or("the job failed");
                Stability::Failed(message.to_string())
            } else if condition_is(manifest, "Complete", "True") {
                Stability::Stable
            } else {
                Stability::Waiting("waiting for the job to complete".into())
            }
        }
        "Pod" => match manifest.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") => Stability::Stable,
            Some("Failed") => Stability::Failed("the pod failed".into()),
            _ if condition_is(manifest, "Ready", "True") => Stability::Stable,
            _ => Stability::Waiting("waiting for the pod to be ready".into()),
        },
        _ => Stability::Stable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yaml_documents_json_and_lists() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n";
        let manifests = parse_text(yaml).unwrap();
        assert_eq!(manifests.len(), 2, "the empty document is skipped");
        assert_eq!(manifests[1]["spec"]["replicas"], 2, "numbers stay numbers");
        let list = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"}}]}"#;
        assert_eq!(kind(&parse_text(list).unwrap()[0]), "Service");
        assert!(matches!(parse_text("kind: [unclosed"), Err(Error::Syntax(_))));
        let nameless = parse_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n").unwrap_err();
        assert_eq!(nameless, Error::Invalid { index: 0, message: "has no metadata.name".into() });
        assert!(parse_text("apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n").is_ok());
    }

    #[test]
    fn names_as_spinnaker_writes_them() {
        assert_eq!(manifest_name("ReplicaSet", "web-v001"), "replicaSet web-v001");
        assert_eq!(split_manifest_name("deployment web").unwrap(), ("deployment".into(), "web".into()));
        assert_eq!(split_manifest_name("deployment/web").unwrap(), ("deployment".into(), "web".into()));
        assert!(split_manifest_name("web").is_err());
        assert_eq!(canonical_kind("replicaSet"), "ReplicaSet");
        assert_eq!(canonical_kind("deployments"), "Deployment");
        assert_eq!(canonical_kind("widget"), "Widget");
        assert_eq!(api_version_of("statefulSet"), Some("apps/v1"));
    }

    #[test]
    fn versions_replica_sets_and_config_unless_told_otherwise() {
        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"}});
        assert!(is_versioned(&rs));
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
        assert!(!is_versioned(&deployment));
        let opted_out = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": {VERSIONED: "false"}}});
        assert!(!is_versioned(&opted_out));
        assert_eq!(versioned_name("web", 7), "web-v007");
        assert_eq!(parse_version("web-v007"), Some(("web", 7)));
        assert_eq!(parse_version("web-v1000"), Some(("web", 1000)));
        assert_eq!(parse_version("web-vx01"), None);
        assert_eq!(parse_version("web"), None);
    }

    #[test]
    fn fingerprints_ignore_what_a_new_version_changes() {
        let mut one = json!({"kind": "ConfigMap", "metadata": {"name": "c-v001", "uid": "1", "annotations": {ARTIFACT_VERSION: "v001", "team": "a"}}, "data": {"k": "v"}});
        let mut two = one.clone();
        two["metadata"]["name"] = json!("c-v002");
        two["metadata"]["annotations"][ARTIFACT_VERSION] = json!("v002");
        assert_eq!(version_fingerprint(&one), version_fingerprint(&two));
        one["data"]["k"] = json!("changed");
        assert_ne!(version_fingerprint(&one), version_fingerprint(&two));
    }

    #[test]
    fn annotates_moniker_artifact_and_pod_template() {
        let mut manifest = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-v002"}, "spec": {"template": {"spec": {}}}});
        annotate(&mut manifest, "shop", "prod", "web", Some(2));
        let annotations = annotations(&manifest);
        assert_eq!(annotations[APPLICATION], "shop");
        assert_eq!(annotations[CLUSTER], "replicaSet web");
        assert_eq!(annotations[ARTIFACT_VERSION], "v002");
        assert_eq!(annotations[ARTIFACT_TYPE], "kubernetes/replicaSet");
        assert_eq!(labels(&manifest)[MANAGED_BY], "gennaker");
        assert_eq!(manifest["spec"]["template"]["metadata"]["annotations"][APPLICATION], "shop");
        let mut named = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "annotations": {CLUSTER: "deployment frontend"}}});
        annotate(&mut named, "shop", "prod", "web", None);
        assert_eq!(super::annotations(&named)[CLUSTER], "deployment frontend", "a cluster the manifest names is kept");
    }

    #[test]
    fn default_protocols_are_written_out() {
        let mut service = json!({"kind": "Service", "spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}});
        fill_default_protocols(&mut service);
        assert_eq!(service["spec"]["ports"], json!([{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]));
        let mut deployment = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 8080}]}]}}}});
        fill_default_protocols(&mut deployment);
        assert_eq!(deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn binds_image_artifacts_by_image_name() {
        let mut manifest = json!({"kind": "Deployment", "spec": {"template": {"spec": {
            "containers": [{"name": "web", "image": "registry:5000/shop/web:1.0"}, {"name": "side", "image": "envoy:1"}],
            "initContainers": [{"name": "init", "image": "registry:5000/shop/web"}]}}}});
        let artifact = Artifact { kind: "docker/image".into(), name: "registry:5000/shop/web".into(), reference: "registry:5000/shop/web:2.0".into(), ..Default::default() };
        let other = Artifact { kind: "docker/image".into(), name: "nginx".into(), reference: "nginx:1.27".into(), ..Default::default() };
        let bound = bind_images(&mut manifest, &[artifact.clone(), other]);
        assert_eq!(bound, vec![artifact]);
        assert_eq!(images(&manifest), vec!["registry:5000/shop/web:2.0", "envoy:1", "registry:5000/shop/web:2.0"]);
        assert_eq!(image_name("registry:5000/web"), "registry:5000/web");
        assert_eq!(image_name("web@sha256:abc"), "web");
    }

    #[test]
    fn judges_stability_per_kind() {
        let rolling = json!({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3}});
        assert!(matches!(stability(&rolling), Stability::Waiting(message) if message.contains("old replicas")));
        let done = json!({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}});
        assert_eq!(stability(&done), Stability::Stable);
        let stale = json!({"kind": "Deployment", "metadata": {"generation": 3}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}});
        assert!(matches!(stability(&stale), Stability::Waiting(_)));
        let stuck = json!({"kind": "Deployment", "status": {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet web-1 has timed out progressing."}]}});
        assert_eq!(stability(&stuck), Stability::Failed("ReplicaSet web-1 has timed out progressing.".into()));
        let job = json!({"kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}});
        assert_eq!(stability(&job), Stability::Failed("BackoffLimitExceeded".into()));
        let rs = json!({"kind": "ReplicaSet", "metadata": {"generation": 1}, "spec": {"replicas": 2}, "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 1}});
        assert!(matches!(stability(&rs), Stability::Waiting(_)));
        assert_eq!(stability(&json!({"kind": "Service"})), Stability::Stable);
    }
}
