//! What the Kubernetes (manifest) stages share: the account's connection, a run's bound
//! artifacts (images to bind, manifests to read), the target of a stage that acts on one
//! object (`manifestName`, or `cluster` + `criteria`), enabling and disabling a workload's
//! traffic through its Services' selectors, and the versions of a versioned workload.

use std::collections::BTreeMap;

use app::model::artifact::Artifact;
use app::model::execution::Execution;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::tasks::Effects;
use crate::cloud::kubernetes::manifest::{self, APPLICATION, ARTIFACT_NAME, CLUSTER, LOAD_BALANCERS};
use crate::cloud::kubernetes::operations::{MergeStrategy, Resource};
use crate::cloud::kubernetes::{Connection, view};

/// The connection to a stage's Kubernetes account.
pub async fn connect(effects: &Effects, account: &str) -> Result<Connection, String> {
    let cloud = effects.clouds.kubernetes().map_err(|e| e.to_string())?;
    cloud.connect(account).await.map_err(|e| e.to_string())
}

/// The artifacts a run has: what its expected artifacts bound, the trigger's own, then what
/// its finished stages found or made (`artifacts` of `findArtifactsFromResource`,
/// `outputs.createdArtifacts` of a deploy), as Orca hands a stage every artifact of the run.
pub fn run_artifacts(execution: &Execution) -> Vec<Artifact> {
    let extra = |key: &str| execution.trigger.extra.get(key).and_then(Value::as_array).into_iter().flatten();
    let bound = extra("resolvedExpectedArtifacts").filter_map(|expected| expected.get("boundArtifact"));
    let from_stages = execution
        .stages
        .iter()
        .filter(|stage| stage.status == app::model::execution::Status::Succeeded)
        .flat_map(|stage| ["artifacts", "outputs.createdArtifacts"].into_iter().filter_map(|key| stage.outputs.get(key)))
        .filter_map(Value::as_array)
        .flatten();
    let parsed = bound.chain(extra("artifacts")).chain(from_stages).filter_map(|artifact| serde_json::from_value::<Artifact>(artifact.clone()).ok());
    let mut artifacts: Vec<Artifact> = Vec::new();
    for artifact in parsed {
        if !artifacts.contains(&artifact) {
            artifacts.push(artifact);
        }
    }
    artifacts
}

/// The artifact bound to the expected artifact `id` of the run: the pipeline's, or one a
/// finished stage produced (`bakeManifest`'s `outputs.resolvedExpectedArtifacts`).
pub fn bound_artifact(execution: &Execution, id: &str) -> Result<Artifact, String> {
    let produced = execution
        .stages
        .iter()
        .filter(|stage| stage.status == app::model::execution::Status::Succeeded)
        .filter_map(|stage| stage.outputs.get("resolvedExpectedArtifacts"));
    execution
        .trigger
        .extra
        .get("resolvedExpectedArtifacts")
        .into_iter()
        .chain(produced)
        .filter_map(Value::as_array)
        .flatten()
        .filter(|expected| expected.get("id").and_then(Value::as_str) == Some(id))
        .find_map(|expected| expected.get("boundArtifact"))
        .and_then(|artifact| serde_json::from_value(artifact.clone()).ok())
        .ok_or_else(|| format!("no bound artifact has id {id:?} (see the pipeline's expectedArtifacts)"))
}

/// The manifests held by an artifact: the run's bound artifact `id`, else the one the stage
/// writes out (`manifestArtifact`), read as YAML or JSON.
pub async fn manifests_from_artifact(effects: &Effects, execution: &Execution, id: &str, inline: Option<&Artifact>) -> Result<Vec<Value>, String> {
    let artifact = match (inline, id) {
        (_, id) if !id.is_empty() => bound_artifact(execution, id)?,
        (Some(artifact), _) => artifact.clone(),
        _ => return Err("name the artifact holding the manifests (manifestArtifactId)".into()),
    };
    manifest::parse_text(&artifact_text(effects, execution, &artifact).await?).map_err(|e| e.to_string())
}

/// The text of a file artifact, fetched for `execution` (see `artifact_files`).
pub async fn artifact_text(effects: &Effects, execution: &Execution, artifact: &Artifact) -> Result<String, String> {
    super::artifact_files::text(effects, execution, artifact).await.map_err(|e| e.to_string())
}

/// A stage's one object: by `manifestName` (`deployment web`), or (`mode: dynamic`) the
/// object of `kind` in `cluster` chosen by `criteria`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestTarget {
    pub account: String,
    /// The namespace.
    #[serde(default)]
    pub location: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// `newest`, `second_newest`, `oldest`, `largest`, `smallest`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub criteria: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app: String,
}

pub const CRITERIA: &[&str] = &["newest", "second_newest", "oldest", "largest", "smallest"];

impl ManifestTarget {
    fn dynamic(&self) -> bool {
        self.mode == "dynamic" || (self.manifest_name.is_empty() && !self.cluster.is_empty())
    }

    /// Save-time checks: a name, or a cluster and a criteria.
    pub fn validate(&self) -> Result<(), super::stages::Fault> {
        if self.account.is_empty() {
            return Err(("account".into(), "name the Kubernetes account".into()));
        }
        if self.dynamic() {
            if self.cluster.is_empty() {
                return Err(("cluster".into(), "name the cluster (e.g. `replicaSet web`) the target is chosen from".into()));
            }
            if !super::stages::has_expression(&self.criteria) && !CRITERIA.contains(&self.criteria.as_str()) {
                return Err(("criteria".into(), format!("one of {}", CRITERIA.join(", "))));
            }
            return Ok(());
        }
        if self.manifest_name.is_empty() {
            return Err(("manifestName".into(), "name the object, e.g. `deployment web`".into()));
        }
        if !super::stages::has_expression(&self.manifest_name) {
            manifest::split_manifest_name(&self.manifest_name).map_err(|e| ("manifestName".to_string(), e.to_string()))?;
        }
        Ok(())
    }

    /// The namespace it acts in (the account's default when the stage names none).
    pub fn namespace(&self, connection: &Connection) -> String {
        if self.location.is_empty() { connection.default_namespace.clone() } else { self.location.clone() }
    }

    /// The object's resource type and name, resolving a dynamic target now.
    pub async fn resolve(&self, connection: &Connection, application: &str) -> Result<(Resource, String, String), String> {
        let namespace = self.namespace(connection);
        connection.check_namespace(&namespace).map_err(|e| e.to_string())?;
        if !self.dynamic() {
            let (kind, name) = manifest::split_manifest_name(&self.manifest_name).map_err(|e| e.to_string())?;
            let resource = connection.resource_of_kind(&kind).await.map_err(|e| e.to_string())?;
            return Ok((resource, namespace, name));
        }
        let kind = if self.kind.is_empty() { manifest::split_manifest_name(&self.cluster).map(|(kind, _)| kind).unwrap_or_default() } else { self.kind.clone() };
        let resource = connection.resource_of_kind(&kind).await.map_err(|e| e.to_string())?;
        let application = if self.app.is_empty() { application } else { &self.app };
        let members = cluster_members(connection, &resource, &namespace, application, &self.cluster).await?;
        let chosen = choose(&members, &self.criteria).ok_or_else(|| format!("cluster {:?} in {namespace} has no {} to choose", self.cluster, self.criteria))?;
        Ok((resource, namespace, manifest::name(chosen).to_string()))
    }
}

/// Whoever runs a stage that changes an object another application owns (its
/// `moniker.spinnaker.io/application`) needs WRITE on that application too, as for server
/// groups named by the convention; an object of no application, or of one that does not
/// exist, is nobody's.
pub async fn require_owner_write(effects: &Effects, execution: &Execution, object: &Value) -> Result<(), String> {
    let Some(owner) = manifest::annotations(object).get(APPLICATION).cloned() else { return Ok(()) };
    if owner == execution.application {
        return Ok(());
    }
    let caller = effects.launcher.caller_named(&execution.trigger.user).await.map_err(|e| e.to_string())?;
    crate::auth::access::require_applications_acted_on(&effects.store, &caller, &execution.application, std::collections::BTreeSet::from([owner]))
        .await
        .map_err(|e| e.to_string())
}

/// The stage's one object, resolved now, after checking the run may change it
/// ([`require_owner_write`]).
pub async fn resolve_owned(effects: &Effects, execution: &Execution, connection: &Connection, target: &ManifestTarget) -> Result<(Resource, String, String), String> {
    let (resource, namespace, name) = target.resolve(connection, &execution.application).await?;
    if let Some(object) = connection.get(&resource, &namespace, &name).await.map_err(|e| e.to_string())? {
        require_owner_write(effects, execution, &object).await?;
    }
    Ok((resource, namespace, name))
}

/// The objects of a cluster (`replicaSet web`) of `application`, by their moniker annotations.
pub async fn cluster_members(connection: &Connection, resource: &Resource, namespace: &str, application: &str, cluster: &str) -> Result<Vec<Value>, String> {
    let objects = connection.list(resource, namespace, None).await.map_err(|e| e.to_string())?;
    Ok(objects
        .into_iter()
        .filter(|object| {
            let annotations = manifest::annotations(object);
            annotations.get(CLUSTER).map(String::as_str) == Some(cluster) && annotations.get(APPLICATION).is_none_or(|owner| owner == application)
        })
        .collect())
}

/// The object `criteria` picks: by creation time (`newest`, `second_newest`, `oldest`) or by
/// replicas (`largest`, `smallest`).
pub fn choose<'a>(objects: &'a [Value], criteria: &str) -> Option<&'a Value> {
    let created = |object: &Value| view::millis(object.pointer("/metadata/creationTimestamp"));
    let replicas = |object: &Value| object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
    let mut sorted: Vec<&Value> = objects.iter().collect();
    sorted.sort_by(|a, b| created(b).cmp(&created(a)).then_with(|| manifest::name(b).cmp(manifest::name(a))));
    match criteria {
        "newest" => sorted.first().copied(),
        "second_newest" => sorted.get(1).copied(),
        "oldest" => sorted.last().copied(),
        "largest" => sorted.iter().copied().max_by_key(|object| replicas(object)),
        "smallest" => sorted.iter().copied().min_by_key(|object| replicas(object)),
        _ => None,
    }
}

/// The other versions of a versioned object (same kind, namespace and artifact name), with
/// their versions, oldest first.
pub async fn versions_of(connection: &Connection, resource: &Resource, namespace: &str, base_name: &str) -> Result<Vec<(u32, Value)>, String> {
    let objects = connection.list(resource, namespace, None).await.map_err(|e| e.to_string())?;
    let mut versions: Vec<(u32, Value)> = objects
        .into_iter()
        .filter(|object| manifest::annotations(object).get(ARTIFACT_NAME).map(String::as_str) == Some(base_name))
        .filter_map(|object| {
            let (base, version) = manifest::parse_version(manifest::name(&object))?;
            (base == base_name).then_some((version, object.clone()))
        })
        .collect();
    versions.sort_by_key(|(version, _)| *version);
    Ok(versions)
}

/// The label selectors of the services a workload takes traffic from (its
/// `traffic.spinnaker.io/load-balancers` annotation, `["service web"]`).
pub async fn traffic_labels(connection: &Connection, namespace: &str, workload: &Value) -> Result<BTreeMap<String, String>, String> {
    let Some(listed) = manifest::annotations(workload).get(LOAD_BALANCERS).cloned() else { return Ok(BTreeMap::new()) };
    let services: Vec<String> = serde_json::from_str(&listed).map_err(|_| format!("annotation {LOAD_BALANCERS} is not a JSON list of services"))?;
    service_selectors(connection, namespace, &services).await
}

/// The union of the selectors of `services` (`service web`).
pub async fn service_selectors(connection: &Connection, namespace: &str, services: &[String]) -> Result<BTreeMap<String, String>, String> {
    let resource = connection.resource("v1", "Service").await.map_err(|e| e.to_string())?;
    let mut labels = BTreeMap::new();
    for service in services {
        let (kind, name) = manifest::split_manifest_name(service).map_err(|e| e.to_string())?;
        if !kind.eq_ignore_ascii_case("service") {
            return Err(format!("{service:?}: traffic goes through services only (`service name`)"));
        }
        let found = connection.get(&resource, namespace, &name).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("service {name} not found in {namespace}"))?;
        let selector = manifest::string_map(found.pointer("/spec/selector"));
        if selector.is_empty() {
            return Err(format!("service {name} has no selector, so gennaker cannot steer its traffic"));
        }
        labels.extend(selector);
    }
    Ok(labels)
}

/// Sends or stops a workload's traffic: its services' selector labels are added to (or
/// removed from) its pod template and its running pods, so the services pick them (only ready
/// pods get traffic: the endpoints controller's rule) or drop them.
pub async fn set_traffic(connection: &Connection, resource: &Resource, namespace: &str, workload: &Value, enable: bool) -> Result<usize, String> {
    let labels = traffic_labels(connection, namespace, workload).await?;
    if labels.is_empty() {
        return Err(format!("{} takes no traffic from services (no {LOAD_BALANCERS} annotation)", manifest::name(workload)));
    }
    let values: serde_json::Map<String, Value> =
        labels.iter().map(|(key, value)| (key.clone(), if enable { json!(value) } else { Value::Null })).collect();
    let name = manifest::name(workload);
    connection
        .patch(resource, namespace, name, &json!({"spec": {"template": {"metadata": {"labels": values.clone()}}}}), MergeStrategy::Merge)
        .await
        .map_err(|e| e.to_string())?;
    let pods = connection.resource("v1", "Pod").await.map_err(|e| e.to_string())?;
    let uid = workload.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
    let mut changed = 0;
    for pod in connection.list(&pods, namespace, None).await.map_err(|e| e.to_string())? {
        let owned = pod
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|owners| owners.iter().any(|owner| owner.get("uid").and_then(Value::as_str) == Some(uid)));
        if owned {
            connection
                .patch(&pods, namespace, manifest::name(&pod), &json!({"metadata": {"labels": values.clone()}}), MergeStrategy::Merge)
                .await
                .map_err(|e| e.to_string())?;
            changed += 1;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_pick_by_age_and_size() {
        let object = |name: &str, created: &str, replicas: i64| {
            json!({"metadata": {"name": name, "creationTimestamp": created}, "spec": {"replicas": replicas}})
        };
        let objects = vec![
            object("web-v001", "2026-11-30T08:00:00Z", 3),
            object("web-v002", "2026-11-30T09:00:00Z", 1),
            object("web-v003", "2026-11-30T10:00:00Z", 2),
        ];
        let name = |criteria| choose(&objects, criteria).map(manifest::name);
        assert_eq!(name("newest"), Some("web-v003"));
        assert_eq!(name("second_newest"), Some("web-v002"));
        assert_eq!(name("oldest"), Some("web-v001"));
        assert_eq!(name("largest"), Some("web-v001"));
        assert_eq!(name("smallest"), Some("web-v002"));
        assert_eq!(name("bogus"), None);
    }

    #[test]
    fn targets_need_a_name_or_a_cluster_and_criteria() {
        let by_name = ManifestTarget { account: "k8s".into(), manifest_name: "deployment web".into(), ..Default::default() };
        assert!(by_name.validate().is_ok());
        let bad_name = ManifestTarget { manifest_name: "web".into(), ..by_name.clone() };
        assert_eq!(bad_name.validate().unwrap_err().0, "manifestName");
        let dynamic = ManifestTarget { account: "k8s".into(), mode: "dynamic".into(), cluster: "replicaSet web".into(), criteria: "oldest".into(), ..Default::default() };
        assert!(dynamic.validate().is_ok());
        let no_criteria = ManifestTarget { criteria: "biggest".into(), ..dynamic };
        assert_eq!(no_criteria.validate().unwrap_err().0, "criteria");
        assert_eq!(ManifestTarget::default().validate().unwrap_err().0, "account");
    }
}
