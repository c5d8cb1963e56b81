//! What the stages that act on existing server groups share (each stage type is its own file
//! under `stages/`: resize, enable, disable, destroy, rollback, clone, find image, the
//! cluster-wide shrink/disable/scale down, and run job). Each stage first *determines* what it acts on (a `target` like `current_asg_dynamic`
//! resolved to a name, a new capacity computed) and keeps that in its context; only the next
//! task calls the provider. So a task retried after a crash acts on the same server group with
//! the same numbers, and never on "the newest" of a cluster it has itself just changed.

use std::collections::BTreeMap;

use app::model::cluster::{Artifact, Capacity, HealthState, Location, ServerGroup};
use app::model::execution::{Execution, Stage};
use app::model::names::{ClusterName, ServerGroupName};
use super::stages::find_image::SelectionStrategy;
use super::stages::resize_server_group::{ResizeAction, ResizeServerGroupStage};
use super::stages::rollback_server_group::RollbackServerGroupStage;
use super::stages::clone_server_group::CloneServerGroupStage;
use super::stages::run_job::RunJobStage;
use super::targets::{ClusterTarget, ServerGroupTarget, TargetSelector};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::tasks::{Effects, TaskResult};
use crate::cloud::provider::{JobSpec, JobStatus, Provider, ServerGroupSpec, Snapshot};

/// How often a task waiting on the cloud looks again.
pub const CLOUD_POLL_MS: i64 = 500;
/// Where a stage keeps what it determined.
const RESOLVED: &str = "resolved";
/// The metadata key holding the client token of the task that created a server group.
pub const CLIENT_TOKEN: &str = "gennaker.clientToken";

pub use super::stages::{Step, failed, succeeded};

/// Not there yet: look at the cloud again (backing off, see [`TaskResult::Polling`]).
pub fn running() -> Step {
    (TaskResult::Polling { first_ms: CLOUD_POLL_MS }, Map::new())
}

/// Succeeded, remembering `resolved` in the stage's context for the next tasks.
pub fn determined<T: Serialize>(resolved: &T, outputs: BTreeMap<String, Value>) -> Step {
    let mut patch = Map::new();
    patch.insert(RESOLVED.into(), serde_json::to_value(resolved).expect("resolutions serialize"));
    (TaskResult::Succeeded { outputs }, patch)
}

pub fn resolution<T: for<'de> Deserialize<'de>>(stage: &Stage) -> Result<T, String> {
    let value = stage.context.get(RESOLVED).cloned().ok_or("the stage lost what it determined; restart it")?;
    serde_json::from_value(value).map_err(|error| format!("the stage's determined target is unreadable: {error}"))
}

pub fn location(cloud_provider: &str, account: &str, region: &str) -> Location {
    Location { cloud_provider: cloud_provider.into(), account: account.into(), region: region.into() }
}

/// The provider serving `location`, and a fresh snapshot of it (tasks decide on fresh state,
/// not on the cache).
pub async fn observe(effects: &Effects, location: &Location) -> Result<(std::sync::Arc<dyn Provider>, Snapshot), String> {
    let provider = effects.clouds.check_location(location).map_err(|e| e.to_string())?;
    let snapshot = provider.observe(&location.account, &location.region).await.map_err(|e| e.to_string())?;
    Ok((provider, snapshot))
}

/// Tells the cache at once what a task changed.
pub async fn refresh(effects: &Effects, location: &Location) {
    if let Err(error) = effects.clouds.refresh(location).await {
        tracing::warn!(%error, "cache refresh after a task failed");
    }
}

/// The cluster's server groups, newest first.
pub fn cluster_groups<'a>(snapshot: &'a Snapshot, cluster: &str) -> Vec<&'a ServerGroup> {
    let mut groups: Vec<&ServerGroup> = snapshot
        .server_groups
        .iter()
        .filter(|group| match &group.moniker {
            // A provider that says which cluster (Kubernetes: `replicaSet web`).
            Some(moniker) => moniker.cluster == cluster,
            None => ServerGroupName::parse(&group.name).is_ok_and(|name| name.cluster.to_string() == cluster),
        })
        .collect();
    groups.sort_by(|a, b| b.created_time.cmp(&a.created_time).then_with(|| b.name.cmp(&a.name)));
    groups
}

/// All instances there and healthy. Instances of a server group without load balancers have
/// no health check: running is as healthy as they get.
pub fn is_healthy(group: &ServerGroup, desired: u32) -> bool {
    group.instances.len() as u32 >= desired
        && group.instances.iter().all(|instance| {
            instance.health_state == HealthState::Up
                || (group.load_balancers.is_empty() && instance.health_state == HealthState::Unknown)
        })
}

/// Resolves a stage's target to a server group name.
pub fn resolve_target(snapshot: &Snapshot, target: &ServerGroupTarget) -> Result<String, String> {
    if let Some(name) = &target.server_group_name {
        return snapshot
            .server_groups
            .iter()
            .any(|group| &group.name == name)
            .then(|| name.clone())
            .ok_or_else(|| format!("server group {name} does not exist in {}/{}", target.account, target.region));
    }
    let (Some(cluster), Some(selector)) = (&target.cluster, target.target) else {
        return Err("name a serverGroupName, or a cluster and a target".into());
    };
    let groups = cluster_groups(snapshot, cluster);
    let chosen = match selector {
        TargetSelector::CurrentAsgDynamic => groups.first(),
        TargetSelector::AncestorAsgDynamic => groups.get(1),
        TargetSelector::OldestAsgDynamic => groups.last(),
        TargetSelector::LargestAsgDynamic => groups.iter().max_by_key(|group| (group.capacity.desired, group.created_time)),
    };
    chosen
        .map(|group| group.name.clone())
        .ok_or_else(|| format!("cluster {cluster} has no server group matching {selector:?} ({} server groups)", groups.len()))
}

pub fn find<'a>(snapshot: &'a Snapshot, name: &str) -> Result<&'a ServerGroup, String> {
    snapshot.server_groups.iter().find(|group| group.name == name).ok_or_else(|| format!("server group {name} does not exist"))
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resolved {
    server_group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    capacity: Option<Capacity>,
    /// Rollback: the server group put back in service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restore: Option<String>,
    /// Clone: the new server group's spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clone: Option<ServerGroupSpec>,
}

pub fn name_output(name: &str) -> BTreeMap<String, Value> {
    BTreeMap::from([("serverGroupName".to_string(), Value::String(name.to_string()))])
}

pub fn target_location(target: &ServerGroupTarget) -> Location {
    location(&target.cloud_provider, &target.account, &target.region)
}

/// A task's outcome: its step, or the error that fails it.
pub fn finish(outcome: Result<Step, String>) -> Step {
    outcome.unwrap_or_else(failed)
}

pub async fn determine_target(effects: &Effects, target: &ServerGroupTarget) -> Result<Step, String> {
    let (_, snapshot) = observe(effects, &target_location(target)).await?;
    let name = resolve_target(&snapshot, target)?;
    Ok(determined(&Resolved { server_group_name: name.clone(), capacity: None, restore: None, clone: None }, name_output(&name)))
}

pub async fn determine_resize(effects: &Effects, resize: &ResizeServerGroupStage) -> Result<Step, String> {
    let (_, snapshot) = observe(effects, &target_location(&resize.target)).await?;
    let name = resolve_target(&snapshot, &resize.target)?;
    let current = find(&snapshot, &name)?.capacity;
    let capacity = match resize.action {
        ResizeAction::ScaleExact => resize.capacity.ok_or("scale_exact needs a capacity")?,
        ResizeAction::ScaleUp | ResizeAction::ScaleDown => {
            let by = match (resize.scale_num, resize.scale_pct) {
                (Some(number), _) => number,
                // Percent of the current desired size, rounded up so 10% of 3 is 1, not 0.
                (None, Some(percent)) => (u64::from(current.desired) * u64::from(percent)).div_ceil(100) as u32,
                (None, None) => return Err("scale_up and scale_down need scaleNum or scalePct".into()),
            };
            let desired = if resize.action == ResizeAction::ScaleUp { current.desired + by } else { current.desired.saturating_sub(by) };
            Capacity { min: current.min.min(desired), max: current.max.max(desired), desired }
        }
    };
    if !capacity.is_consistent() {
        return Err(format!("capacity must satisfy min <= desired <= max, got {capacity:?}"));
    }
    let mut outputs = name_output(&name);
    outputs.insert("capacity".into(), serde_json::to_value(capacity).expect("capacities serialize"));
    Ok(determined(&Resolved { server_group_name: name, capacity: Some(capacity), restore: None, clone: None }, outputs))
}

#[derive(Debug, Clone, Copy)]
pub enum Action {
    Resize,
    Enable,
    Disable,
    Destroy,
    ScaleToZero,
}

pub async fn apply(
    provider: &dyn Provider,
    location: &Location,
    snapshot: &Snapshot,
    name: &str,
    action: Action,
    capacity: Option<Capacity>,
) -> Result<(), String> {
    let result = match action {
        Action::Resize => provider.resize(location, name, capacity.ok_or("no capacity was determined")?).await,
        Action::Enable => provider.enable(location, name).await,
        Action::Disable => provider.disable(location, name).await,
        // Destroying what is already gone is done.
        Action::Destroy if !snapshot.server_groups.iter().any(|group| group.name == name) => Ok(()),
        Action::Destroy => provider.destroy(location, name).await,
        Action::ScaleToZero => {
            let current = find(snapshot, name)?.capacity;
            provider.resize(location, name, Capacity { min: 0, max: current.max, desired: 0 }).await
        }
    };
    result.map_err(|error| format!("{action:?} {name}: {error}"))
}

pub async fn act(effects: &Effects, stage: &Stage, target: &ServerGroupTarget, action: Action) -> Result<Step, String> {
    let resolved: Resolved = resolution(stage)?;
    let location = target_location(target);
    let (provider, snapshot) = observe(effects, &location).await?;
    apply(provider.as_ref(), &location, &snapshot, &resolved.server_group_name, action, resolved.capacity).await?;
    refresh(effects, &location).await;
    Ok(succeeded(BTreeMap::new()))
}

/// Waits until the resolved server group has its desired instances, healthy when enabled.
pub async fn wait_healthy(effects: &Effects, stage: &Stage, target: &ServerGroupTarget) -> Result<Step, String> {
    let resolved: Resolved = resolution(stage)?;
    wait_for(effects, &target_location(target), &resolved.server_group_name).await
}

pub async fn wait_for(effects: &Effects, location: &Location, name: &str) -> Result<Step, String> {
    let (_, snapshot) = observe(effects, location).await?;
    let group = find(&snapshot, name)?;
    let ready = if group.disabled {
        group.instances.len() as u32 == group.capacity.desired
    } else {
        group.instances.len() as u32 == group.capacity.desired && is_healthy(group, group.capacity.desired)
    };
    Ok(if ready { succeeded(BTreeMap::new()) } else { running() })
}

pub async fn determine_rollback(effects: &Effects, rollback: &RollbackServerGroupStage) -> Result<Step, String> {
    let (_, snapshot) = observe(effects, &target_location(&rollback.target)).await?;
    let mut target = rollback.target.clone();
    if target.server_group_name.is_none() && target.target.is_none() {
        target.target = Some(TargetSelector::CurrentAsgDynamic);
    }
    let current = resolve_target(&snapshot, &target)?;
    let restore = match &rollback.restore_server_group_name {
        Some(name) => find(&snapshot, name)?.name.clone(),
        None => {
            let cluster = ServerGroupName::parse(&current).map_err(|e| e.to_string())?.cluster.to_string();
            let groups = cluster_groups(&snapshot, &cluster);
            let position = groups.iter().position(|group| group.name == current).unwrap_or(0);
            groups
                .get(position + 1)
                .map(|group| group.name.clone())
                .ok_or_else(|| format!("{current} is the oldest server group of {cluster}: nothing to roll back to"))?
        }
    };
    if restore == current {
        return Err(format!("cannot roll {current} back to itself"));
    }
    let capacity = find(&snapshot, &current)?.capacity;
    let mut outputs = name_output(&current);
    outputs.insert("restoreServerGroupName".into(), Value::String(restore.clone()));
    Ok(determined(&Resolved { server_group_name: current, capacity: Some(capacity), restore: Some(restore), clone: None }, outputs))
}

/// Puts the restore server group back: at least the rolled-back one's size, enabled.
pub async fn restore(effects: &Effects, stage: &Stage, target: &ServerGroupTarget) -> Result<Step, String> {
    let resolved: Resolved = resolution(stage)?;
    let restore = resolved.restore.ok_or("no server group to restore was determined")?;
    let location = target_location(target);
    let (provider, snapshot) = observe(effects, &location).await?;
    let current = find(&snapshot, &restore)?.capacity;
    let wanted = resolved.capacity.unwrap_or(current);
    if current.desired < wanted.desired {
        let capacity = Capacity { min: current.min.min(wanted.desired), max: current.max.max(wanted.desired), desired: wanted.desired };
        provider.resize(&location, &restore, capacity).await.map_err(|e| format!("resize {restore}: {e}"))?;
    }
    provider.enable(&location, &restore).await.map_err(|e| format!("enable {restore}: {e}"))?;
    refresh(effects, &location).await;
    Ok(succeeded(BTreeMap::new()))
}

pub async fn wait_restored(effects: &Effects, stage: &Stage, target: &ServerGroupTarget) -> Result<Step, String> {
    let resolved: Resolved = resolution(stage)?;
    let restore = resolved.restore.ok_or("no server group to restore was determined")?;
    wait_for(effects, &target_location(target), &restore).await
}

/// The next free version of a cluster, after every existing one.
pub fn next_name(snapshot: &Snapshot, cluster: &ClusterName) -> Result<String, String> {
    let highest = cluster_groups(snapshot, &cluster.to_string())
        .iter()
        .filter_map(|group| ServerGroupName::parse(&group.name).ok())
        .map(|name| name.version)
        .max();
    let version = highest.map_or(0, |v| (v + 1) % (app::model::names::MAX_VERSION + 1));
    ServerGroupName::new(cluster.clone(), version).map(|name| name.to_string()).map_err(|e| e.to_string())
}

/// A server group's scaling policies and scheduled actions as a new one of its cluster gets
/// them (Spinnaker's copy on deploy and clone): unnamed, so the provider names them for the
/// new group, and without the alarms' names (a step policy's alarm is made anew).
pub fn scaling_copies(source: &ServerGroup) -> (Vec<app::model::scaling::ScalingPolicy>, Vec<app::model::scaling::ScheduledAction>) {
    let policies = source
        .scaling_policies
        .iter()
        .map(|policy| {
            let mut copy = policy.clone();
            copy.policy_name.clear();
            for alarm in &mut copy.alarms {
                alarm.alarm_name.clear();
            }
            copy
        })
        .collect();
    let actions = source
        .scheduled_actions
        .iter()
        .map(|action| app::model::scaling::ScheduledAction { scheduled_action_name: String::new(), ..action.clone() })
        .collect();
    (policies, actions)
}

/// The group already created with `token`, if any (a retried create).
pub fn created_with<'a>(snapshot: &'a Snapshot, token: &str) -> Option<&'a ServerGroup> {
    snapshot.server_groups.iter().find(|group| group.metadata.get(CLIENT_TOKEN).is_some_and(|t| t == token))
}

pub async fn determine_clone(
    execution: &Execution,
    stage: &Stage,
    effects: &Effects,
    clone: &CloneServerGroupStage,
) -> Result<Step, String> {
    let (_, snapshot) = observe(effects, &target_location(&clone.target)).await?;
    let source_name = resolve_target(&snapshot, &clone.target)?;
    let source = find(&snapshot, &source_name)?;
    let cluster = ServerGroupName::parse(&source_name).map_err(|e| e.to_string())?.cluster;
    let token = format!("{}/{}", execution.id, stage.id);
    let name = match created_with(&snapshot, &token) {
        Some(existing) => existing.name.clone(),
        None => next_name(&snapshot, &cluster)?,
    };
    let artifact = match &clone.artifact {
        Some(spec) => spec.to_artifact()?,
        None => source.artifact.clone(),
    };
    let spec = ServerGroupSpec {
        name: name.clone(),
        location: source.location.clone(),
        capacity: clone.capacity.unwrap_or(source.capacity),
        artifact,
        load_balancers: source.load_balancers.clone(),
        security_groups: source.security_groups.clone(),
        // The source's tags come along; gennaker's own keys do not.
        metadata: app::model::cluster::user_tags(&source.metadata).into_iter().chain([(CLIENT_TOKEN.to_string(), token)]).collect(),
        // As Spinnaker's clone: the launch settings, scaling policies and scheduled actions too.
        launch: app::model::scaling::LaunchSettings { launch_template: String::new(), ..source.launch.clone() },
        scaling_policies: scaling_copies(source).0,
        scheduled_actions: scaling_copies(source).1,
    };
    let mut outputs = name_output(&name);
    outputs.insert("sourceServerGroupName".into(), Value::String(source_name.clone()));
    Ok(determined(&Resolved { server_group_name: source_name, capacity: None, restore: None, clone: Some(spec) }, outputs))
}

pub async fn create_clone(effects: &Effects, stage: &Stage, target: &ServerGroupTarget) -> Result<Step, String> {
    let resolved: Resolved = resolution(stage)?;
    let spec = resolved.clone.ok_or("no clone was determined")?;
    let location = target_location(target);
    let (provider, snapshot) = observe(effects, &location).await?;
    let token = spec.metadata.get(CLIENT_TOKEN).cloned().unwrap_or_default();
    if created_with(&snapshot, &token).is_none() {
        provider.create_server_group(spec.clone()).await.map_err(|e| format!("create {}: {e}", spec.name))?;
    }
    refresh(effects, &location).await;
    Ok(succeeded(BTreeMap::new()))
}

pub async fn wait_clone(effects: &Effects, stage: &Stage, target: &ServerGroupTarget) -> Result<Step, String> {
    let resolved: Resolved = resolution(stage)?;
    let spec = resolved.clone.ok_or("no clone was determined")?;
    wait_for(effects, &target_location(target), &spec.name).await
}

pub fn cluster_location(cluster: &ClusterTarget) -> Location {
    location(&cluster.cloud_provider, &cluster.account, &cluster.region)
}

/// The artifact a cluster runs, chosen by `strategy`; a later deploy without an artifact uses
/// it (`outputs.artifact`).
pub async fn find_image(effects: &Effects, cluster: &ClusterTarget, strategy: SelectionStrategy, only_enabled: bool) -> Result<Step, String> {
    let (_, snapshot) = observe(effects, &cluster_location(cluster)).await?;
    let groups: Vec<&ServerGroup> =
        cluster_groups(&snapshot, &cluster.cluster).into_iter().filter(|group| !only_enabled || !group.disabled).collect();
    let chosen = match strategy {
        SelectionStrategy::Newest => groups.first().copied(),
        SelectionStrategy::Oldest => groups.last().copied(),
        SelectionStrategy::Largest => groups.iter().max_by_key(|group| (group.capacity.desired, group.created_time)).copied(),
        SelectionStrategy::Fail if groups.len() > 1 => {
            return Err(format!("cluster {} has {} server groups and selectionStrategy is FAIL", cluster.cluster, groups.len()));
        }
        SelectionStrategy::Fail => groups.first().copied(),
    };
    let group = chosen.ok_or_else(|| {
        format!("cluster {} has no {}server group in {}/{}", cluster.cluster, if only_enabled { "enabled " } else { "" }, cluster.account, cluster.region)
    })?;
    let artifact = serde_json::to_value(&group.artifact).expect("artifacts serialize");
    let mut outputs = name_output(&group.name);
    outputs.insert("artifact".into(), artifact.clone());
    outputs.insert(
        "deploymentDetails".into(),
        serde_json::json!([{ "artifact": artifact, "serverGroupName": group.name, "account": cluster.account, "region": cluster.region }]),
    );
    if let Artifact::Command { version, .. } = &group.artifact {
        outputs.insert("imageVersion".into(), Value::String(version.clone()));
    }
    Ok(succeeded(outputs))
}

/// The artifact the nearest finished Find Image stage found, for a deploy without one.
pub fn found_artifact(execution: &Execution) -> Option<Artifact> {
    execution
        .stages
        .iter()
        .filter(|stage| stage.kind == "findImage" && stage.status == app::model::execution::Status::Succeeded)
        .max_by_key(|stage| stage.end_time)
        .and_then(|stage| stage.outputs.get("artifact"))
        .and_then(|artifact| serde_json::from_value(artifact.clone()).ok())
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClusterResolved {
    server_groups: Vec<String>,
}

/// Ranks the cluster's server groups (newest first, or largest first), keeps the first `keep`
/// and picks those of the rest `eligible` says may be acted on.
pub async fn determine_cluster(
    effects: &Effects,
    cluster: &ClusterTarget,
    keep: u32,
    rank_by_size: bool,
    eligible: impl Fn(&ServerGroup) -> bool,
) -> Result<Step, String> {
    let (_, snapshot) = observe(effects, &cluster_location(cluster)).await?;
    let mut groups = cluster_groups(&snapshot, &cluster.cluster);
    if rank_by_size {
        groups.sort_by(|a, b| b.capacity.desired.cmp(&a.capacity.desired).then_with(|| b.created_time.cmp(&a.created_time)));
    }
    let chosen: Vec<String> = groups.iter().skip(keep as usize).filter(|group| eligible(group)).map(|group| group.name.clone()).collect();
    let outputs = BTreeMap::from([("serverGroups".to_string(), serde_json::json!(chosen))]);
    Ok(determined(&ClusterResolved { server_groups: chosen }, outputs))
}

/// Disable Cluster ranks only the enabled server groups.
pub async fn determine_cluster_enabled(effects: &Effects, cluster: &ClusterTarget, keep: u32, rank_by_size: bool) -> Result<Step, String> {
    let (_, snapshot) = observe(effects, &cluster_location(cluster)).await?;
    let mut groups: Vec<&ServerGroup> = cluster_groups(&snapshot, &cluster.cluster).into_iter().filter(|group| !group.disabled).collect();
    if rank_by_size {
        groups.sort_by(|a, b| b.capacity.desired.cmp(&a.capacity.desired).then_with(|| b.created_time.cmp(&a.created_time)));
    }
    let chosen: Vec<String> = groups.iter().skip(keep as usize).map(|group| group.name.clone()).collect();
    let outputs = BTreeMap::from([("serverGroups".to_string(), serde_json::json!(chosen))]);
    Ok(determined(&ClusterResolved { server_groups: chosen }, outputs))
}

pub async fn act_on_cluster(effects: &Effects, stage: &Stage, cluster: &ClusterTarget, action: Action) -> Result<Step, String> {
    let resolved: ClusterResolved = resolution(stage)?;
    let location = cluster_location(cluster);
    let (provider, snapshot) = observe(effects, &location).await?;
    for name in &resolved.server_groups {
        if matches!(action, Action::Destroy) || snapshot.server_groups.iter().any(|group| &group.name == name) {
            apply(provider.as_ref(), &location, &snapshot, name, action, None).await?;
        }
    }
    refresh(effects, &location).await;
    Ok(succeeded(BTreeMap::new()))
}

/// The client token of a stage's job, derived from the run and the stage so a retried task
/// finds the job it started.
pub fn job_token(execution_id: &str, stage: &Stage) -> String {
    format!("{execution_id}/{}", stage.id)
}

pub async fn start_job(execution: &Execution, stage: &Stage, effects: &Effects, job: &RunJobStage) -> Result<Step, String> {
    let location = location(&job.cloud_provider, &job.account, &job.region);
    let provider = effects.clouds.check_location(&location).map_err(|e| e.to_string())?;
    let spec = JobSpec { token: job_token(&execution.id, stage), location, command: job.command.clone(), env: job.env.clone() };
    provider.run_job(spec).await.map_err(|e| e.to_string())?;
    Ok(succeeded(BTreeMap::new()))
}

/// Most output kept in the stage's outputs (the end of it).
const OUTPUT_KEPT: usize = 16 * 1024;

pub async fn wait_job(execution: &Execution, stage: &Stage, effects: &Effects, job: &RunJobStage, _now: i64) -> Result<Step, String> {
    let location = location(&job.cloud_provider, &job.account, &job.region);
    let provider = effects.clouds.check_location(&location).map_err(|e| e.to_string())?;
    match provider.job_status(&location, &job_token(&execution.id, stage)).await.map_err(|e| e.to_string())? {
        JobStatus::Running => Ok(running()),
        JobStatus::Unknown => Err("the job is gone (gennaker restarted while it ran); restart the stage to run it again".into()),
        JobStatus::Exited { code, output } => {
            let mut outputs = BTreeMap::new();
            outputs.insert("exitCode".to_string(), Value::from(code));
            let start = output.len().saturating_sub(OUTPUT_KEPT);
            let start = (start..output.len()).find(|&at| output.is_char_boundary(at)).unwrap_or(output.len());
            outputs.insert("output".to_string(), Value::String(output[start..].to_string()));
            if let Some((_, properties)) = output.split_once("SPINNAKER_PROPERTIES\n") {
                for line in properties.lines() {
                    if let Some((key, value)) = line.split_once('=') {
                        outputs.insert(key.trim().to_string(), Value::String(value.trim().to_string()));
                    }
                }
            }
            if code == 0 {
                Ok(succeeded(outputs))
            } else {
                let tail: String = output.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
                Ok((TaskResult::Failed { error: format!("the job exited with code {code}: {tail}") }, Map::new()))
            }
        }
    }
}

/// A target names a server group, or a cluster and a selector (for `validate`).
pub fn validate_target(target: &ServerGroupTarget) -> Result<(), super::stages::Fault> {
    match (&target.server_group_name, &target.cluster, &target.target) {
        (Some(_), _, _) | (None, Some(_), Some(_)) => Ok(()),
        (None, Some(_), None) => Err(("target".into(), "a cluster needs a target (current_asg_dynamic, ancestor_asg_dynamic, oldest_asg_dynamic, largest_asg_dynamic)".into())),
        (None, None, _) => Err(("serverGroupName".into(), "name a serverGroupName, or a cluster and a target".into())),
    }
}

/// `min <= desired <= max`, as every cloud's autoscaling group demands (for `validate`).
pub fn validate_capacity(field: &str, capacity: &Capacity) -> Result<(), super::stages::Fault> {
    if capacity.is_consistent() {
        Ok(())
    } else {
        Err((field.into(), format!("capacity must satisfy min <= desired <= max, got {capacity:?}")))
    }
}

/// A cluster name's parts are valid, naming the part at fault: the stack or detail when only
/// it is wrong, else the application (for `validate`; parts with expressions wait for the run).
pub fn validate_cluster_name(application: &str, stack: &str, detail: &str) -> Result<(), (&'static str, String)> {
    if [application, stack, detail].iter().any(|part| super::stages::has_expression(part)) {
        return Ok(());
    }
    ClusterName::new(application, stack, detail).map(drop).map_err(|error| {
        let field = if ClusterName::new(application, "", "").is_err() {
            "application"
        } else if ClusterName::new(application, stack, "").is_err() {
            "stack"
        } else {
            "freeFormDetails"
        };
        (field, error.to_string())
    })
}
