//! The calls Kubernetes stages make on an account: apply (server-side apply), get, list,
//! delete, patch (strategic, merge or JSON), scale and undo a rollout, on objects of any kind
//! as JSON values. Kinds gennaker knows are resolved without asking the server; others (custom
//! resources) by discovery, remembered per connection.

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use super::manifest;
use super::{Connection, Error, Result};

/// The field manager gennaker applies as (server-side apply).
pub const FIELD_MANAGER: &str = "gennaker";

/// A resource type: where its objects live in the API.
#[derive(Debug, Clone)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
}

/// How `patch` merges its body (Spinnaker's `options.mergeStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeStrategy {
    #[default]
    Strategic,
    Merge,
    Json,
}

fn gvk(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}

fn to_value(object: DynamicObject) -> Value {
    serde_json::to_value(object).expect("an API object serializes")
}

impl Connection {
    /// The resource type of `kind` in `api_version`.
    pub async fn resource(&self, api_version: &str, kind: &str) -> Result<Resource> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.resources.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(found.clone());
        }
        let known = manifest::KNOWN_KINDS.iter().find(|(known_kind, known_version, _)| *known_kind == kind && *known_version == api_version);
        let resource = match known {
            Some((_, _, plural)) => Resource { api: ApiResource::from_gvk_with_plural(&gvk(api_version, kind), plural), namespaced: kind != "Namespace" },
            None => {
                let (api, capabilities) = kube::discovery::pinned_kind(&self.client, &gvk(api_version, kind))
                    .await
                    .map_err(|e| Error::Invalid(format!("the cluster has no kind {kind} in {api_version}: {e}")))?;
                Resource { api, namespaced: capabilities.scope == kube::discovery::Scope::Namespaced }
            }
        };
        self.resources.lock().unwrap_or_else(|p| p.into_inner()).insert(key, resource.clone());
        Ok(resource)
    }

    /// The resource type of a kind named as Spinnaker names it (`deployment`, `replicaSet`),
    /// for kinds gennaker knows.
    pub async fn resource_of_kind(&self, kind: &str) -> Result<Resource> {
        let canonical = manifest::canonical_kind(kind);
        let api_version = manifest::api_version_of(&canonical)
            .ok_or_else(|| Error::Invalid(format!("kind {kind:?} is not one gennaker knows by name; deploy it with a manifest naming its apiVersion")))?;
        self.resource(api_version, &canonical).await
    }

    fn api(&self, resource: &Resource, namespace: &str) -> Api<DynamicObject> {
        if resource.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &resource.api)
        } else {
            Api::all_with(self.client.clone(), &resource.api)
        }
    }

    /// Applies a manifest (server-side apply, gennaker's changes win over other managers'), in
    /// `namespace` when its kind is namespaced; a manifest with only `generateName` is created.
    pub async fn apply(&self, manifest: &Value, namespace: &str) -> Result<Value> {
        let resource = self.resource(manifest::api_version(manifest), manifest::kind(manifest)).await?;
        if resource.namespaced {
            self.check_namespace(namespace)?;
        }
        let api = self.api(&resource, namespace);
        let name = manifest::name(manifest);
        let applied = if name.is_empty() {
            let object: DynamicObject = serde_json::from_value(manifest.clone()).map_err(|e| Error::Invalid(format!("manifest: {e}")))?;
            api.create(&PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() }, &object).await?
        } else {
            api.patch(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(manifest)).await?
        };
        Ok(to_value(applied))
    }

    /// The object, or `None` when there is none.
    pub async fn get(&self, resource: &Resource, namespace: &str, name: &str) -> Result<Option<Value>> {
        Ok(self.api(resource, namespace).get_opt(name).await?.map(to_value))
    }

    /// The objects of a type in a namespace, optionally by label selector.
    pub async fn list(&self, resource: &Resource, namespace: &str, label_selector: Option<&str>) -> Result<Vec<Value>> {
        let mut params = ListParams::default();
        if let Some(selector) = label_selector.filter(|selector| !selector.is_empty()) {
            params = params.labels(selector);
        }
        let list = self.api(resource, namespace).list(&params).await?;
        Ok(list
            .items
            .into_iter()
            .map(|object| {
                let mut value = to_value(object);
                // Items of a list do not say their kind; what reads them next does.
                value["kind"] = json!(resource.api.kind);
                value["apiVersion"] = json!(resource.api.api_version);
                value
            })
            .collect())
    }

    /// Deletes an object (with its dependents when `cascading`); false when it was gone.
    pub async fn delete(&self, resource: &Resource, namespace: &str, name: &str, cascading: bool, grace_period_seconds: Option<u32>) -> Result<bool> {
        let params = DeleteParams {
            propagation_policy: Some(if cascading { PropagationPolicy::Background } else { PropagationPolicy::Orphan }),
            grace_period_seconds,
            ..Default::default()
        };
        match self.api(resource, namespace).delete(name, &params).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Patches an object with `body` merged by `strategy` (a JSON patch body is a list of
    /// operations).
    pub async fn patch(&self, resource: &Resource, namespace: &str, name: &str, body: &Value, strategy: MergeStrategy) -> Result<Value> {
        let api = self.api(resource, namespace);
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
        let patched = match strategy {
            MergeStrategy::Strategic => api.patch(name, &params, &Patch::Strategic(body)).await?,
            MergeStrategy::Merge => api.patch(name, &params, &Patch::Merge(body)).await?,
            MergeStrategy::Json => {
                let operations: json_patch::Patch =
                    serde_json::from_value(body.clone()).map_err(|e| Error::Invalid(format!("patchBody is not a JSON patch (a list of operations): {e}")))?;
                api.patch(name, &params, &Patch::Json::<()>(operations)).await?
            }
        };
        Ok(to_value(patched))
    }

    /// Sets a workload's replicas.
    pub async fn scale(&self, resource: &Resource, namespace: &str, name: &str, replicas: u32) -> Result<Value> {
        self.patch(resource, namespace, name, &json!({"spec": {"replicas": replicas}}), MergeStrategy::Merge).await
    }

    /// Rolls a Deployment back `revisions_back` revisions (1: the one before the current), as
    /// `kubectl rollout undo` does: its pod template becomes that revision's ReplicaSet's.
    /// Returns the revision rolled back to.
    pub async fn undo_rollout(&self, namespace: &str, name: &str, revisions_back: u32) -> Result<u64> {
        let deployments = self.resource("apps/v1", "Deployment").await?;
        let deployment = self.get(&deployments, namespace, name).await?.ok_or_else(|| Error::NotFound(format!("deployment {name} in {namespace}")))?;
        let uid = deployment.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_string();
        let replica_sets = self.resource("apps/v1", "ReplicaSet").await?;
        let revision = |object: &Value| -> u64 {
            manifest::annotations(object).get("deployment.kubernetes.io/revision").and_then(|revision| revision.parse().ok()).unwrap_or(0)
        };
        let mut owned: Vec<Value> = self
            .list(&replica_sets, namespace, None)
            .await?
            .into_iter()
            .filter(|rs| {
                rs.pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|owners| owners.iter().any(|owner| owner.get("uid").and_then(Value::as_str) == Some(uid.as_str())))
            })
            .collect();
        owned.sort_by_key(|rs| std::cmp::Reverse(revision(rs)));
        let back = revisions_back.max(1) as usize;
        let target = owned.get(back).ok_or_else(|| {
            Error::Invalid(format!("deployment {name} has {} revisions; it cannot go back {back}", owned.len()))
        })?;
        let mut template = target.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
        if let Some(labels) = template.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
            labels.remove("pod-template-hash");
        }
        let body = json!([{"op": "replace", "path": "/spec/template", "value": template}]);
        self.patch(&deployments, namespace, name, &body, MergeStrategy::Json).await?;
        Ok(revision(target))
    }

    /// The events of an object, newest last (for a workload's details).
    pub async fn events_of(&self, namespace: &str, kind: &str, name: &str) -> Result<Vec<Value>> {
        let events = self.resource("v1", "Event").await?;
        let selector = format!("involvedObject.kind={kind},involvedObject.name={name}");
        let list = self.api(&events, namespace).list(&ListParams::default().fields(&selector)).await?;
        let mut values: Vec<Value> = list.items.into_iter().map(to_value).collect();
        values.sort_by_key(|event| super::view::millis(event.get("lastTimestamp").or_else(|| event.pointer("/metadata/creationTimestamp"))));
        Ok(values)
    }
}
