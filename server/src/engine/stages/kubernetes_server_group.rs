//! The generic server-group stages on Kubernetes server groups, as Clouddriver's Kubernetes
//! provider runs them: `resizeServerGroup` scales the workload (its
//! `KubernetesResizeServerGroupOperation`), `enableServerGroup` / `disableServerGroup` move it
//! into or out of its Services, `destroyServerGroup` deletes it. The server group is a
//! `serverGroupName` such as `replicaSet web-v002`, or a `cluster` (`replicaSet web`) with a
//! `target` (`current_asg_dynamic` is the newest, `ancestor_asg_dynamic` the one before,
//! `oldest_asg_dynamic`, `largest_asg_dynamic`), in the namespace `location`, `namespaces[0]` or
//! `region`. Each keeps the local stages' three tasks (determine, act, wait) and uses the
//! manifest stages' parts, so another application's workload is guarded the same way.

use serde_json::{Value, json};

use super::deploy_manifest::{deployed_of, wait_until_stable};
use super::scale_manifest::acted_on;
use super::{Step, Task, failed, succeeded};
use crate::engine::manifests::{ManifestTarget, connect, resolve_owned, set_traffic};
use crate::engine::stages::resize_server_group::{ResizeAction, ResizeServerGroupStage};
use crate::engine::targets::{ServerGroupTarget, TargetSelector};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Resize,
    Enable,
    Disable,
    Destroy,
}

/// Whether a stage acts on a Kubernetes server group.
pub fn applies(target: &ServerGroupTarget) -> bool {
    target.cloud_provider == "kubernetes"
}

/// The stage's server group as a manifest stage's target.
fn manifest_target(task: &Task<'_>, target: &ServerGroupTarget) -> ManifestTarget {
    let context = &task.stage.context;
    let namespace = context
        .get("location")
        .and_then(Value::as_str)
        .or_else(|| context.pointer("/namespaces/0").and_then(Value::as_str))
        .or_else(|| context.pointer("/regions/0").and_then(Value::as_str))
        .unwrap_or(&target.region);
    let criteria = match target.target {
        Some(TargetSelector::CurrentAsgDynamic) => "newest",
        Some(TargetSelector::AncestorAsgDynamic) => "second_newest",
        Some(TargetSelector::OldestAsgDynamic) => "oldest",
        Some(TargetSelector::LargestAsgDynamic) => "largest",
        None => "",
    };
    let by_name = target.server_group_name.clone().unwrap_or_default();
    ManifestTarget {
        account: target.account.clone(),
        location: if namespace == "local" { String::new() } else { namespace.to_string() },
        mode: if by_name.is_empty() { "dynamic".into() } else { String::new() },
        manifest_name: by_name,
        cluster: target.cluster.clone().unwrap_or_default(),
        criteria: criteria.into(),
        ..Default::default()
    }
}

/// How many replicas a resize asks for, given how many there are.
fn desired(resize: &ResizeServerGroupStage, current: u32) -> u32 {
    let by = |current: u32| match (resize.scale_num, resize.scale_pct) {
        (Some(number), _) => number,
        (None, Some(percent)) => (current * percent).div_ceil(100),
        (None, None) => 0,
    };
    match resize.action {
        ResizeAction::ScaleExact => resize.capacity.as_ref().map_or(current, |capacity| capacity.desired),
        ResizeAction::ScaleUp => current + by(current),
        ResizeAction::ScaleDown => current.saturating_sub(by(current)),
    }
}

/// Runs task `task.index` of a generic server-group stage on Kubernetes.
pub async fn run(task: Task<'_>, target: &ServerGroupTarget, operation: Operation, resize: Option<&ResizeServerGroupStage>) -> Step {
    let outcome = async {
        let connection = connect(task.effects, &target.account).await?;
        let chosen = manifest_target(&task, target);
        match task.index {
            0 => {
                let (resource, namespace, name) = resolve_owned(task.effects, task.execution, &connection, &chosen).await?;
                let mut outputs = acted_on(&resource, &namespace, &name);
                outputs.insert("serverGroupName".into(), outputs["manifestName"].clone());
                Ok(succeeded(outputs))
            }
            1 => {
                let deployed = deployed_of(&task).into_iter().next().ok_or("the stage lost the server group it determined; restart it")?;
                let resource = connection.resource(&deployed.api_version, &deployed.kind).await.map_err(|e| e.to_string())?;
                let (namespace, name) = (&deployed.namespace, &deployed.name);
                let object = connection.get(&resource, namespace, name).await.map_err(|e| e.to_string())?;
                let Some(object) = object else {
                    return if operation == Operation::Destroy { Ok(succeeded(Default::default())) } else { Err(format!("{} {name} not found in {namespace}", deployed.kind)) };
                };
                let mut outputs = std::collections::BTreeMap::new();
                match operation {
                    Operation::Resize => {
                        let current = object.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1) as u32;
                        let replicas = resize.map_or(current, |resize| desired(resize, current));
                        connection.scale(&resource, namespace, name, replicas).await.map_err(|e| e.to_string())?;
                        outputs.insert("replicas".to_string(), json!(replicas));
                    }
                    Operation::Enable | Operation::Disable => {
                        let pods = set_traffic(&connection, &resource, namespace, &object, operation == Operation::Enable).await?;
                        outputs.insert("podsChanged".to_string(), json!(pods));
                    }
                    Operation::Destroy => {
                        connection.delete(&resource, namespace, name, true, None).await.map_err(|e| e.to_string())?;
                    }
                }
                Ok(succeeded(outputs))
            }
            _ => match operation {
                Operation::Resize | Operation::Enable => wait_until_stable(&connection, &deployed_of(&task)).await,
                Operation::Disable => Ok(succeeded(Default::default())),
                Operation::Destroy => {
                    for deployed in deployed_of(&task) {
                        let resource = connection.resource(&deployed.api_version, &deployed.kind).await.map_err(|e| e.to_string())?;
                        if connection.get(&resource, &deployed.namespace, &deployed.name).await.map_err(|e| e.to_string())?.is_some() {
                            return Ok(crate::engine::server_groups::running());
                        }
                    }
                    Ok(succeeded(Default::default()))
                }
            },
        }
    };
    outcome.await.unwrap_or_else(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizes_count_from_the_current_replicas() {
        let stage = |value: Value| -> ResizeServerGroupStage { serde_json::from_value(value).unwrap() };
        assert_eq!(desired(&stage(json!({"cloudProvider": "kubernetes", "serverGroupName": "replicaSet web-v001", "capacity": {"min": 1, "max": 5, "desired": 4}})), 2), 4);
        assert_eq!(desired(&stage(json!({"serverGroupName": "x", "action": "scale_up", "scaleNum": 2})), 3), 5);
        assert_eq!(desired(&stage(json!({"serverGroupName": "x", "action": "scale_up", "scalePct": 50})), 3), 5);
        assert_eq!(desired(&stage(json!({"serverGroupName": "x", "action": "scale_down", "scaleNum": 9})), 3), 0);
    }
}
