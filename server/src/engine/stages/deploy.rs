//! The deploy stage and its strategies, with Orca's semantics. Three tasks, each over every
//! cluster of the stage:
//! 1. `createServerGroup`: the next version of the cluster (`...-v001` after `...-v000`),
//!    created with a client token in its metadata so a retry finds it instead of creating a
//!    second one. Rolling red/black starts it empty; canary at the canary size.
//! 2. `waitForUpInstances`: every instance healthy in its load balancers. Rolling red/black
//!    grows the new server group step by step (`targetPercentages`), waiting for health at each
//!    and running `pipelineBeforeCleanup` if set, so traffic shifts to it gradually while the
//!    old one still serves.
//! 3. `applyStrategy`: `redblack`/`rollingredblack` disable the cluster's other server groups
//!    (after `delayBeforeCleanup`), optionally scale them down (after
//!    `delayBeforeScaleDownSec`) and destroy the oldest beyond `maxRemainingAsgs`;
//!    `highlander` destroys them; `none` leaves them serving; `canary` leaves them serving,
//!    or, with `canaryAnalysis`, moves traffic to the canary in steps judged by canary
//!    analysis and then promotes or rolls back by itself (`deploy/rollout.rs`).
//!
//! Traffic only ever moves to instances the balancer has seen healthy, and a server group
//! leaves service by being disabled (draining) before it is scaled down or destroyed, so a
//! deploy drops no request. `rollback.onFailure`: when the new server group never becomes
//! healthy (or a later step fails), it is destroyed and the server groups it was to replace
//! are enabled again.

mod rollout;

use app::model::pipeline::Extra;
use crate::engine::targets::{ArtifactSpec, RollbackOptions};
use std::collections::BTreeMap;

use app::model::cluster::{Capacity, Location, ServerGroup};
use app::model::scaling::{LaunchSettings, ScalingPolicy, ScheduledAction};
use app::model::execution::{Execution, Stage};
use app::model::names::ClusterName;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::engine::server_groups::{
    CLIENT_TOKEN, Step, cluster_groups, created_with, failed, found_artifact, is_healthy, location, next_name, observe, refresh,
    validate_capacity, validate_cluster_name,
};
use async_trait::async_trait;

use app::model::stage_types::{Field, FieldList, Input, StageTypeInfo, choices};
use serde_json::json;
use crate::engine::stage_forms as F;
use super::{StageType, Task, config_or_fail};
use crate::engine::tasks::{Effects, TaskResult};
use crate::cloud::provider::ServerGroupSpec;

/// One cluster of a deploy stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterDeploy {
    #[serde(default = "crate::engine::targets::local")]
    pub cloud_provider: String,
    #[serde(default = "crate::engine::targets::local", alias = "credentials")]
    pub account: String,
    #[serde(default = "crate::engine::targets::local")]
    pub region: String,
    pub application: String,
    #[serde(default)]
    pub stack: String,
    #[serde(default)]
    pub free_form_details: String,
    pub capacity: Capacity,
    /// Omitted: the artifact an upstream Find Image stage found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<ArtifactSpec>,
    #[serde(default)]
    pub load_balancers: Vec<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// The server group's tags (Spinnaker's `tags`): shown in its details, found by search and
    /// the clusters filter, copied on clone, in the stage's outputs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// `redblack`, `highlander`, `rollingredblack`, `canary` or `none` (also empty).
    #[serde(default)]
    pub strategy: String,
    /// Red/black: how many server groups the cluster keeps, the new one included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_remaining_asgs: Option<u32>,
    /// Red/black: seconds to wait after the new one is healthy before disabling the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_before_cleanup: Option<u64>,
    /// Red/black: scale the disabled server groups down to zero instances.
    #[serde(default)]
    pub scale_down: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_before_scale_down_sec: Option<u64>,
    /// Rolling red/black: the share of the desired capacity the new server group reaches at
    /// each step, ending at 100 (default `[50, 100]`).
    #[serde(default)]
    pub target_percentages: Vec<u32>,
    /// Rolling red/black: a pipeline run (and waited for) after each step, before traffic moves
    /// on; if it fails, the deploy fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_before_cleanup: Option<PipelineBeforeCleanup>,
    /// Canary: the canary server group's instance count (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_capacity: Option<u32>,
    /// Canary: traffic steps judged by canary analysis, then promotion or rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_analysis: Option<rollout::CanaryRollout>,
    /// Seconds to wait for every new instance to be healthy (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_healthy_timeout_sec: Option<u64>,
    #[serde(default)]
    pub rollback: RollbackOptions,
    /// AWS: how the instances launch, as Spinnaker's AWS deploy stage names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "userData")]
    pub base64_user_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_type: Option<String>,
    /// Spinnaker's switch (default on): the new server group gets the scaling policies and
    /// scheduled actions of the cluster's newest server group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_source_scaling_policies_and_actions: Option<bool>,
    /// Policies and scheduled actions to create with the server group (besides copied ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaling_policies: Vec<ScalingPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scheduled_actions: Vec<ScheduledAction>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ClusterDeploy {
    /// The launch settings the cluster names (AWS's fields; empty elsewhere).
    pub fn launch(&self) -> LaunchSettings {
        let text = |value: &Option<String>| value.clone().unwrap_or_default().trim().to_string();
        LaunchSettings {
            instance_type: text(&self.instance_type),
            key_pair: text(&self.key_pair),
            iam_role: text(&self.iam_role),
            user_data: text(&self.base64_user_data),
            subnet_type: text(&self.subnet_type),
            launch_template: String::new(),
        }
    }

    /// The policies and actions the new server group starts with: the cluster's own, then
    /// (unless switched off) copies of those of `source`, the cluster's newest server group.
    pub fn scaling(&self, source: Option<&ServerGroup>) -> (Vec<ScalingPolicy>, Vec<ScheduledAction>) {
        let mut policies = self.scaling_policies.clone();
        let mut actions = self.scheduled_actions.clone();
        if let Some(source) = source.filter(|_| self.copy_source_scaling_policies_and_actions != Some(false)) {
            let (copied_policies, copied_actions) = crate::engine::server_groups::scaling_copies(source);
            policies.extend(copied_policies);
            actions.extend(copied_actions);
        }
        (policies, actions)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineBeforeCleanup {
    pub application: String,
    /// The pipeline's id or name.
    #[serde(alias = "pipeline")]
    pub pipeline_id: String,
    #[serde(default)]
    pub pipeline_parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployStage {
    pub clusters: Vec<ClusterDeploy>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Where the stage keeps its progress.
const PROGRESS: &str = "deployProgress";
const DEFAULT_HEALTHY_TIMEOUT_SEC: u64 = 600;
const DEFAULT_PERCENTAGES: &[u32] = &[50, 100];

/// What the stage did so far for one cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    server_group: String,
    /// The cluster's other server groups that were enabled when the deploy began.
    previously_enabled: Vec<String>,
    /// Rolling red/black: how many target percentages are reached.
    #[serde(default)]
    step: usize,
    #[serde(default)]
    wait_started: Option<i64>,
    /// Rolling red/black: the run of `pipelineBeforeCleanup` for the current step.
    #[serde(default)]
    step_pipeline: Option<String>,
    #[serde(default)]
    strategy_started: Option<i64>,
    #[serde(default)]
    disabled_others: bool,
    #[serde(default)]
    scaled_down: bool,
    /// Canary with analysis: where the rollout stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rollout: Option<rollout::RolloutState>,
}

/// The artifact a cluster names by the id of one of the run's bound expected artifacts
/// (`imageArtifactId`, or `artifactId`), as something the local cloud runs.
fn bound_artifact(execution: &app::model::execution::Execution, cluster: &ClusterDeploy) -> Result<Option<app::model::cluster::Artifact>, String> {
    let Some(id) = ["imageArtifactId", "artifactId"].iter().find_map(|key| cluster.extra.get(*key).and_then(Value::as_str)) else {
        return Ok(None);
    };
    let resolved = execution.trigger.extra.get("resolvedExpectedArtifacts").and_then(Value::as_array).into_iter().flatten();
    let bound = resolved
        .filter(|expected| expected.get("id").and_then(Value::as_str) == Some(id))
        .find_map(|expected| expected.get("boundArtifact"))
        .ok_or_else(|| format!("no bound artifact has id {id:?} (see the pipeline's expectedArtifacts)"))?;
    let kind = bound.get("type").and_then(Value::as_str).unwrap_or_default();
    let reference = bound.get("reference").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "docker/image" if !reference.is_empty() => Ok(Some(app::model::cluster::Artifact::DockerImage { reference: reference.to_string() })),
        // A commit (a git push's): built and run with the cluster's buildCommand/runCommand.
        "git/repo" => {
            let commands = |key: &str| -> Vec<String> { cluster.extra.get(key).and_then(|value| serde_json::from_value(value.clone()).ok()).unwrap_or_default() };
            let repository = if reference.is_empty() { bound.get("name").and_then(Value::as_str).unwrap_or_default() } else { reference };
            let commit = bound.get("version").and_then(Value::as_str).unwrap_or_default();
            crate::engine::targets::source_artifact(repository, commit, &commands("buildCommand"), &commands("runCommand")).map(Some)
        }
        other => Err(format!("artifact {id:?} is a {other:?}, which the local cloud cannot run as a server group")),
    }
}

/// Which cluster names no capacity, said as the reason the stage cannot run.
fn without_capacity(config: &Value) -> Option<String> {
    let clusters = config.get("clusters").and_then(Value::as_array)?;
    clusters.iter().position(|cluster| cluster.get("capacity").is_none()).map(|index| format!("clusters[{index}] names no capacity {{min, max, desired}}"))
}

/// A cluster as Spinnaker's AWS deploy stage writes it, in the fields gennaker's deploy reads:
/// the region from `availabilityZones` (`{"us-east-1": [...]}`; a cluster per region), the
/// machine image from `imageId` or `amiName` (a name is looked up in the region when the
/// server group is made), `targetGroups` as the load balancers it joins (`instanceType`,
/// `keyPair`, `iamRole`, `base64UserData`, `subnetType` are read by `ClusterDeploy::launch`). Other providers' clusters are left as they are.
pub fn normalized(mut deploy: DeployStage) -> DeployStage {
    let mut clusters = Vec::new();
    for mut cluster in std::mem::take(&mut deploy.clusters) {
        if cluster.cloud_provider != "aws" {
            clusters.push(cluster);
            continue;
        }
        if cluster.artifact.is_none()
            && let Some(image) = ["imageId", "amiName"].iter().find_map(|key| cluster.extra.get(*key).and_then(Value::as_str)).filter(|image| !image.is_empty())
        {
            cluster.artifact = Some(ArtifactSpec { image_id: Some(image.to_string()), ..ArtifactSpec::default() });
        }
        let target_groups: Vec<String> = cluster.extra.get("targetGroups").and_then(|value| serde_json::from_value(value.clone()).ok()).unwrap_or_default();
        for group in target_groups {
            if !cluster.load_balancers.contains(&group) {
                cluster.load_balancers.push(group);
            }
        }
        let regions: Vec<String> = cluster.extra.get("availabilityZones").and_then(Value::as_object).map(|zones| zones.keys().cloned().collect()).unwrap_or_default();
        if cluster.region == "local" && !regions.is_empty() {
            for region in regions {
                let mut one = cluster.clone();
                one.region = region;
                clusters.push(one);
            }
        } else {
            clusters.push(cluster);
        }
    }
    deploy.clusters = clusters;
    deploy
}

fn cluster_location(cluster: &ClusterDeploy) -> Location {
    location(&cluster.cloud_provider, &cluster.account, &cluster.region)
}

fn cluster_name(cluster: &ClusterDeploy) -> Result<ClusterName, String> {
    ClusterName::new(&cluster.application, &cluster.stack, &cluster.free_form_details).map_err(|e| e.to_string())
}

fn progress_of(stage: &Stage) -> Vec<Progress> {
    stage.context.get(PROGRESS).cloned().and_then(|value| serde_json::from_value(value).ok()).unwrap_or_default()
}

fn with_progress(result: TaskResult, progress: &[Progress]) -> Step {
    let mut patch = Map::new();
    patch.insert(PROGRESS.into(), serde_json::to_value(progress).expect("progress serializes"));
    (result, patch)
}

fn strategy(cluster: &ClusterDeploy) -> &str {
    match cluster.strategy.as_str() {
        "" => "none",
        other => other,
    }
}

fn percentages(cluster: &ClusterDeploy) -> &[u32] {
    if cluster.target_percentages.is_empty() { DEFAULT_PERCENTAGES } else { &cluster.target_percentages }
}

/// The capacity the new server group starts with.
fn initial_capacity(cluster: &ClusterDeploy) -> Capacity {
    match strategy(cluster) {
        "rollingredblack" => Capacity { min: 0, max: cluster.capacity.max, desired: 0 },
        "canary" => {
            let size = cluster.canary_capacity.unwrap_or(1);
            Capacity { min: size, max: size, desired: size }
        }
        _ => cluster.capacity,
    }
}

pub async fn run(execution: &Execution, stage: &Stage, deploy: &DeployStage, index: usize, now: i64, effects: &Effects) -> Step {
    let result = match index {
        0 => create(execution, stage, deploy, effects).await,
        1 => wait_for_health(execution, stage, deploy, now, effects).await,
        _ => apply_strategy(execution, stage, deploy, now, effects).await,
    };
    match result {
        Ok(step) => step,
        Err(error) => {
            let mut progress = progress_of(stage);
            let rolled_back = roll_back_on_failure(deploy, &mut progress, effects).await;
            failed(format!("{error}{rolled_back}"))
        }
    }
}

async fn create(execution: &Execution, stage: &Stage, deploy: &DeployStage, effects: &Effects) -> Result<Step, String> {
    let mut progress = Vec::new();
    let mut created: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (index, cluster) in deploy.clusters.iter().enumerate() {
        let location = cluster_location(cluster);
        let (provider, snapshot) = observe(effects, &location).await?;
        let name = cluster_name(cluster)?;
        let token = format!("{}/{}/{index}", execution.id, stage.id);
        let others: Vec<String> = cluster_groups(&snapshot, &name.to_string())
            .iter()
            .filter(|group| group.metadata.get(CLIENT_TOKEN) != Some(&token))
            .filter(|group| !group.disabled)
            .map(|group| group.name.clone())
            .collect();
        let server_group = match created_with(&snapshot, &token) {
            Some(existing) => existing.name.clone(),
            None => {
                let artifact = match (&cluster.artifact, bound_artifact(execution, cluster)?) {
                    (Some(spec), _) => spec.to_artifact()?,
                    (None, Some(bound)) => bound,
                    (None, None) => super::find_image_from_tags::found_for_region(execution, &cluster.region)
                        .filter(|_| cluster.cloud_provider == "aws")
                        .map(|image_id| app::model::cluster::Artifact::MachineImage { image_id })
                        .or_else(|| found_artifact(execution))
                        .ok_or("the cluster has no artifact and no Find Image stage found one")?,
                };
                if strategy(cluster) == "canary" {
                    rollout::hold_traffic(effects, cluster, &others).await?;
                }
                let (scaling_policies, scheduled_actions) = cluster.scaling(cluster_groups(&snapshot, &name.to_string()).first().copied());
                let spec = ServerGroupSpec {
                    name: next_name(&snapshot, &name)?,
                    location: location.clone(),
                    capacity: initial_capacity(cluster),
                    artifact,
                    load_balancers: cluster.load_balancers.clone(),
                    security_groups: cluster.security_groups.clone(),
                    metadata: cluster.tags.clone().into_iter().chain([(CLIENT_TOKEN.to_string(), token)]).collect(),
                    launch: cluster.launch(),
                    scaling_policies,
                    scheduled_actions,
                };
                provider.create_server_group(spec).await.map_err(|e| format!("cannot create a server group in {name}: {e}"))?.name
            }
        };
        refresh(effects, &location).await;
        created.entry(cluster.region.clone()).or_default().push(server_group.clone());
        progress.push(Progress { server_group, previously_enabled: others, ..Progress::default() });
    }
    let mut outputs = BTreeMap::new();
    outputs.insert("deploy.server.groups".to_string(), serde_json::to_value(&created).expect("names serialize"));
    let tags: BTreeMap<&String, &String> = deploy.clusters.iter().flat_map(|cluster| cluster.tags.iter()).collect();
    if !tags.is_empty() {
        outputs.insert("tags".to_string(), serde_json::to_value(&tags).expect("tags serialize"));
    }
    let names: Vec<&String> = created.values().flatten().collect();
    if let [only] = names.as_slice() {
        outputs.insert("serverGroupName".to_string(), Value::String((*only).clone()));
    }
    Ok(with_progress(TaskResult::Succeeded { outputs }, &progress))
}

async fn wait_for_health(execution: &Execution, stage: &Stage, deploy: &DeployStage, now: i64, effects: &Effects) -> Result<Step, String> {
    let mut progress = progress_of(stage);
    if progress.len() != deploy.clusters.len() {
        return Err("the deploy lost track of its server groups; restart the stage".into());
    }
    let mut all_ready = true;
    for (cluster, progress) in deploy.clusters.iter().zip(progress.iter_mut()) {
        let location = cluster_location(cluster);
        let (provider, snapshot) = observe(effects, &location).await?;
        let group = snapshot
            .server_groups
            .iter()
            .find(|group| group.name == progress.server_group)
            .ok_or_else(|| format!("server group {} disappeared", progress.server_group))?;
        let started = *progress.wait_started.get_or_insert(now);
        let timeout_ms = cluster.wait_for_healthy_timeout_sec.unwrap_or(DEFAULT_HEALTHY_TIMEOUT_SEC) as i64 * 1000;

        let wanted = if strategy(cluster) == "rollingredblack" {
            let steps = percentages(cluster);
            let Some(percent) = steps.get(progress.step) else { continue };
            (u64::from(cluster.capacity.desired) * u64::from(*percent)).div_ceil(100) as u32
        } else {
            group.capacity.desired
        };
        if group.capacity.desired != wanted {
            let capacity = Capacity { min: cluster.capacity.min.min(wanted), max: cluster.capacity.max.max(wanted), desired: wanted };
            provider.resize(&location, &group.name, capacity).await.map_err(|e| format!("resize {}: {e}", group.name))?;
            refresh(effects, &location).await;
            all_ready = false;
            continue;
        }
        if group.instances.len() as u32 == wanted && is_healthy(group, wanted) {
            if strategy(cluster) == "rollingredblack" {
                if let Some(before_cleanup) = &cluster.pipeline_before_cleanup {
                    if !step_pipeline_done(execution, stage, progress, before_cleanup, effects).await? {
                        all_ready = false;
                        continue;
                    }
                }
            }
            if strategy(cluster) == "rollingredblack" && progress.step < percentages(cluster).len() {
                progress.step += 1;
                progress.wait_started = Some(now);
                all_ready &= progress.step == percentages(cluster).len();
            }
            continue;
        }
        all_ready = false;
        if now - started > timeout_ms {
            let up = group.instances.iter().filter(|i| i.health_state == app::model::cluster::HealthState::Up).count();
            return Err(format!(
                "{} did not become healthy within {} s ({up} of {wanted} instances up)",
                group.name,
                timeout_ms / 1000
            ));
        }
    }
    let result = if all_ready { TaskResult::Succeeded { outputs: BTreeMap::new() } } else { TaskResult::Running { retry_after_ms: crate::engine::server_groups::CLOUD_POLL_MS } };
    Ok(with_progress(result, &progress))
}

/// Runs `pipelineBeforeCleanup` once for the current rolling step and says whether it has
/// succeeded; its failure fails the deploy. The child run's id derives from the step, so a
/// retried task finds the run it started.
async fn step_pipeline_done(
    execution: &Execution,
    stage: &Stage,
    progress: &mut Progress,
    before_cleanup: &PipelineBeforeCleanup,
    effects: &Effects,
) -> Result<bool, String> {
    let config = super::pipeline::PipelineStage {
        application: before_cleanup.application.clone(),
        pipeline: before_cleanup.pipeline_id.clone(),
        pipeline_parameters: before_cleanup.pipeline_parameters.clone(),
        wait_for_completion: true,
        extra: Default::default(),
    };
    let mut step_stage = stage.clone();
    step_stage.id = format!("{}-step{}", stage.id, progress.step + 1);
    match &progress.step_pipeline {
        None => match super::pipeline::start(&effects.launcher, execution, &step_stage, &config).await {
            (TaskResult::Succeeded { outputs }, _) => {
                progress.step_pipeline = outputs.get("executionId").and_then(Value::as_str).map(str::to_string);
                Ok(false)
            }
            (TaskResult::Failed { error } | TaskResult::Warned { error }, _) => Err(format!("pipelineBeforeCleanup: {error}")),
            (TaskResult::Running { .. } | TaskResult::Polling { .. }, _) => Ok(false),
        },
        Some(id) => {
            if let Value::Object(context) = &mut step_stage.context {
                context.insert("executionId".into(), Value::String(id.clone()));
            }
            match super::pipeline::wait(&effects.store, &step_stage, &config).await {
                (TaskResult::Succeeded { .. }, _) => {
                    progress.step_pipeline = None;
                    Ok(true)
                }
                (TaskResult::Failed { error } | TaskResult::Warned { error }, _) => Err(format!("pipelineBeforeCleanup at step {}: {error}", progress.step + 1)),
                (TaskResult::Running { .. } | TaskResult::Polling { .. }, _) => Ok(false),
            }
        }
    }
}

async fn apply_strategy(execution: &Execution, stage: &Stage, deploy: &DeployStage, now: i64, effects: &Effects) -> Result<Step, String> {
    let mut progress = progress_of(stage);
    if progress.len() != deploy.clusters.len() {
        return Err("the deploy lost track of its server groups; restart the stage".into());
    }
    let mut waiting_ms: Option<i64> = None;
    let mut wait = |ms: i64| waiting_ms = Some(waiting_ms.map_or(ms, |w: i64| w.min(ms)).max(1));
    let mut failure: Option<String> = None;
    for (index, (cluster, progress)) in deploy.clusters.iter().zip(progress.iter_mut()).enumerate() {
        let mut strategy = strategy(cluster);
        if strategy == "canary" && cluster.canary_analysis.is_some() {
            match rollout::advance(execution, &stage.id, index, cluster, progress, now, effects).await? {
                rollout::Outcome::Wait(ms) => {
                    wait(ms);
                    continue;
                }
                rollout::Outcome::Failed(message) => {
                    failure = Some(message);
                    break;
                }
                // Then clean up as red/black does.
                rollout::Outcome::Promoted => strategy = "redblack",
            }
        }
        if !matches!(strategy, "redblack" | "rollingredblack" | "highlander") {
            continue;
        }
        let location = cluster_location(cluster);
        let (provider, snapshot) = observe(effects, &location).await?;
        let started = *progress.strategy_started.get_or_insert(now);
        let name = cluster_name(cluster)?.to_string();
        let others: Vec<_> = cluster_groups(&snapshot, &name).into_iter().filter(|group| group.name != progress.server_group).collect();

        if strategy == "highlander" {
            for group in &others {
                provider.destroy(&location, &group.name).await.map_err(|e| format!("destroy {}: {e}", group.name))?;
            }
            refresh(effects, &location).await;
            continue;
        }
        if !progress.disabled_others {
            let delay = cluster.delay_before_cleanup.unwrap_or(0) as i64 * 1000;
            if now - started < delay {
                wait(delay - (now - started));
                continue;
            }
            for group in others.iter().filter(|group| !group.disabled) {
                provider.disable(&location, &group.name).await.map_err(|e| format!("disable {}: {e}", group.name))?;
            }
            progress.disabled_others = true;
            progress.strategy_started = Some(now);
            refresh(effects, &location).await;
        }
        let disabled_at = progress.strategy_started.unwrap_or(now);
        if cluster.scale_down && !progress.scaled_down {
            let delay = cluster.delay_before_scale_down_sec.unwrap_or(0) as i64 * 1000;
            if now - disabled_at < delay {
                wait(delay - (now - disabled_at));
                continue;
            }
            for group in others.iter().filter(|group| group.capacity.desired > 0) {
                let capacity = Capacity { min: 0, max: group.capacity.max, desired: 0 };
                provider.resize(&location, &group.name, capacity).await.map_err(|e| format!("scale down {}: {e}", group.name))?;
            }
            progress.scaled_down = true;
        }
        if let Some(keep) = cluster.max_remaining_asgs {
            // `others` is newest first; the new server group counts as one kept.
            for group in others.iter().skip(keep.saturating_sub(1) as usize) {
                provider.destroy(&location, &group.name).await.map_err(|e| format!("destroy {}: {e}", group.name))?;
            }
        }
        refresh(effects, &location).await;
    }
    if let Some(error) = failure {
        return Ok(with_progress(TaskResult::Failed { error }, &progress));
    }
    // A promoted canary's balancers go back to plain rotation once production is disabled.
    if waiting_ms.is_none() {
        for (cluster, progress) in deploy.clusters.iter().zip(progress.iter()) {
            if progress.rollout.as_ref().is_some_and(|state| state.promoted) && !progress.previously_enabled.is_empty() {
                rollout::release_traffic(effects, cluster).await?;
            }
        }
    }
    let result = match waiting_ms {
        Some(ms) => TaskResult::Running { retry_after_ms: ms },
        None => TaskResult::Succeeded { outputs: BTreeMap::new() },
    };
    Ok(with_progress(result, &progress))
}

/// A deploy stopped by its stage timeout (`stageTimeoutMs`) rolls back as a failed one does:
/// with `rollback.onFailure`, what it created goes and what it disabled serves again.
pub async fn roll_back_after_timeout(stage: &Stage, deploy: &DeployStage, effects: &Effects) -> String {
    let mut progress = progress_of(stage);
    roll_back_on_failure(deploy, &mut progress, effects).await
}

/// With `rollback.onFailure`: enables again what the deploy disabled and destroys what it
/// created. Says what it did, to append to the error.
async fn roll_back_on_failure(deploy: &DeployStage, progress: &mut [Progress], effects: &Effects) -> String {
    let mut done = Vec::new();
    for (cluster, progress) in deploy.clusters.iter().zip(progress.iter_mut()) {
        if !cluster.rollback.on_failure || progress.server_group.is_empty() {
            continue;
        }
        let location = cluster_location(cluster);
        let Ok(provider) = effects.clouds.provider(&cluster.cloud_provider) else { continue };
        for name in &progress.previously_enabled {
            match provider.enable(&location, name).await {
                Ok(()) => done.push(format!("enabled {name}")),
                Err(error) => done.push(format!("could not enable {name}: {error}")),
            }
        }
        match provider.destroy(&location, &progress.server_group).await {
            Ok(()) => done.push(format!("destroyed {}", progress.server_group)),
            Err(error) => done.push(format!("could not destroy {}: {error}", progress.server_group)),
        }
        // A canary rollout stopped midway: its baseline goes too, and the balancers go back
        // to plain rotation.
        if let Some(baseline) = progress.rollout.as_ref().and_then(|state| state.baseline.clone()) {
            match provider.destroy(&location, &baseline).await {
                Ok(()) => done.push(format!("destroyed {baseline}")),
                Err(error) => done.push(format!("could not destroy {baseline}: {error}")),
            }
        }
        if progress.rollout.is_some()
            && let Err(error) = rollout::release_traffic(effects, cluster).await
        {
            done.push(error);
        }
        refresh(effects, &location).await;
    }
    if done.is_empty() { String::new() } else { format!("; rolled back: {}", done.join(", ")) }
}

/// The strategies a cluster may name (`""` is `none`).
const STRATEGIES: &[&str] = &["", "none", "redblack", "highlander", "rollingredblack", "canary"];

pub struct Deploy;

#[async_trait]
impl StageType for Deploy {
    fn type_name(&self) -> &'static str {
        "deploy"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let mut info = F::info("deploy", "Deploy", "Deploys a new server group in each cluster with a strategy (red/black, highlander, rolling red/black, canary).", Vec::new(), json!({"clusters": [new_cluster(application)]}));
        info.lists = vec![clusters_list(application)];
        info
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["createServerGroup", "waitForUpInstances", "applyStrategy"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        // A cluster without a capacity (some hand-written Spinnaker pipelines) is kept, and
        // refused when started (`cannot_run` says which).
        if without_capacity(config).is_some() {
            return Ok(());
        }
        let deploy: DeployStage = super::parse(config)?;
        if deploy.clusters.is_empty() {
            return Err(("clusters".into(), "a deploy stage needs at least one cluster".into()));
        }
        for (index, cluster) in deploy.clusters.iter().enumerate() {
            let fault = |field: &str, message: String| (format!("clusters[{index}].{field}"), message);
            validate_cluster_name(&cluster.application, &cluster.stack, &cluster.free_form_details).map_err(|(field, message)| fault(field, message))?;
            validate_capacity("capacity", &cluster.capacity).map_err(|(field, message)| fault(&field, message))?;
            if !STRATEGIES.contains(&cluster.strategy.as_str()) && !super::has_expression(&cluster.strategy) {
                return Err(fault("strategy", format!("unknown strategy {:?}; known: redblack, highlander, rollingredblack, canary, none", cluster.strategy)));
            }
            if let Some(artifact) = &cluster.artifact {
                artifact.to_artifact().map_err(|message| fault("artifact", message))?;
            }
            if cluster.tags.len() > 50 {
                return Err(fault("tags", "a server group has at most 50 tags".into()));
            }
            for (key, value) in &cluster.tags {
                if key.is_empty() || key.len() > 128 || key.starts_with(app::model::cluster::RESERVED_TAG_PREFIX) {
                    return Err(fault("tags", format!("tag {key:?}: names are 1 to 128 characters and do not start with {:?}", app::model::cluster::RESERVED_TAG_PREFIX)));
                }
                if value.len() > 256 {
                    return Err(fault("tags", format!("tag {key:?}: values are at most 256 characters")));
                }
            }
            if cluster.canary_analysis.is_some() {
                if cluster.strategy != "canary" {
                    return Err(fault("canaryAnalysis", "belongs to the canary strategy".into()));
                }
                if cluster.load_balancers.is_empty() {
                    return Err(fault("canaryAnalysis", "moves traffic on the cluster's load balancers: name at least one".into()));
                }
                if !matches!(cluster.cloud_provider.as_str(), "local" | "aws") && !super::has_expression(&cluster.cloud_provider) {
                    return Err(fault(
                        "canaryAnalysis",
                        format!(
                            "moves traffic by weight on load balancers of the local and aws clouds only (AWS: Application Load Balancers, by weighted target groups); {} cannot weigh traffic",
                            cluster.cloud_provider
                        ),
                    ));
                }
                rollout::validate(cluster).map_err(|(field, message)| fault(&field, message))?;
            }
            if !cluster.target_percentages.is_empty() {
                let ascending = cluster.target_percentages.windows(2).all(|pair| pair[0] < pair[1]);
                if !ascending || cluster.target_percentages.last() != Some(&100) || cluster.target_percentages[0] == 0 {
                    return Err(fault("targetPercentages", "targetPercentages must rise from above 0 to 100, e.g. [25, 50, 100]".into()));
                }
            }
            if cluster.max_remaining_asgs == Some(0) {
                return Err(fault("maxRemainingAsgs", "maxRemainingAsgs keeps at least the new server group: 1 or more".into()));
            }
        }
        Ok(())
    }

    fn accounts_read(&self, config: &Value) -> Vec<String> {
        let Ok(deploy) = super::parse::<DeployStage>(config) else { return Vec::new() };
        deploy
            .clusters
            .iter()
            .filter_map(|cluster| cluster.canary_analysis.as_ref()?.analysis.metrics_account_name.clone())
            .filter(|name| !name.trim().is_empty())
            .collect()
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<DeployStage>(config).map(|config| config.clusters.into_iter().map(|cluster| cluster.account).collect()).unwrap_or_default()
    }

    /// A cluster for another cloud provider (Spinnaker's AWS, GCE, Kubernetes v1 deploys).
    fn cannot_run(&self, config: &Value) -> Option<String> {
        let clusters = config.get("clusters").and_then(Value::as_array).into_iter().flatten();
        super::other_cloud(config).or_else(|| clusters.filter_map(super::other_cloud).next()).or_else(|| without_capacity(config))
    }

    /// Each cluster's application, and those of the load balancers and security groups its
    /// server groups join.
    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        let Ok(config) = super::parse::<DeployStage>(config) else { return Vec::new() };
        config
            .clusters
            .iter()
            .flat_map(|cluster| {
                let joined = cluster.load_balancers.iter().chain(&cluster.security_groups).map(|name| crate::engine::targets::application_of(name));
                std::iter::once(cluster.application.clone()).chain(joined)
            })
            .collect()
    }

    /// Rolling red/black's `pipelineBeforeCleanup` starts a pipeline.
    fn starts_pipelines_of(&self, config: &Value) -> Vec<String> {
        let Ok(config) = super::parse::<DeployStage>(config) else { return Vec::new() };
        config.clusters.into_iter().filter_map(|cluster| cluster.pipeline_before_cleanup.map(|before| before.application)).collect()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let deploy: DeployStage = normalized(config_or_fail!(task.stage));
        run(task.execution, task.stage, &deploy, task.index, task.now, task.effects).await
    }

    /// A deploy stopped by its timeout rolls back like a failed one (`rollback.onFailure`).
    async fn on_timeout(&self, stage: &Stage, effects: &Effects) -> String {
        match super::config::<DeployStage>(stage) {
            Ok(deploy) => roll_back_after_timeout(stage, &normalized(deploy), effects).await,
            Err(_) => String::new(),
        }
    }
}

/// A deploy's cluster as the form starts it: the application's main cluster, red/black, on the
/// local cloud, running the demo app.
fn new_cluster(application: &str) -> Value {
    json!({
        "cloudProvider": "local", "account": "local", "region": "local",
        "application": application, "stack": "", "freeFormDetails": "",
        "capacity": {"min": 1, "max": 1, "desired": 1},
        "artifact": {"command": ["demo-app", "--version", "v1"], "version": "v1"},
        "loadBalancers": [], "securityGroups": [],
        "strategy": "redblack", "maxRemainingAsgs": 2,
        "rollback": {"onFailure": true}
    })
}

/// One cluster of a deploy stage, relative to `clusters[i]`.
fn clusters_list(application: &str) -> FieldList {
    let strategies = choices(&[
        ("redblack", "Red/black (blue/green)"),
        ("highlander", "Highlander"),
        ("rollingredblack", "Rolling red/black"),
        ("canary", "Canary"),
        ("none", "None: just add a server group"),
    ]);
    let mut fields = vec![
        Field::new("application", "Application", Input::Text, "The cluster's application (names the server groups)."),
        Field::new("stack", "Stack", Input::Text, "Optional, e.g. web or prod: the second part of the cluster's name."),
        Field::new("freeFormDetails", "Detail", Input::Text, "Optional third part of the cluster's name."),
    ];
    fields.push(Field::new("cloudProvider", "Cloud", choices(&[("local", "local"), ("aws", "AWS")]), "Where the server group runs: the local cloud, or an AWS account."));
    fields.extend(F::location());
    fields.extend([
        Field::new("amiName", "Machine image (AWS)", Input::Text, "AWS: the AMI id (ami-...) or name the instances boot, e.g. ${trigger.properties.ami}."),
        Field::new("instanceType", "Instance type (AWS)", Input::Text, "AWS: e.g. t3.small (default t3.micro)."),
        Field::new("targetGroups", "Target groups (AWS)", Input::Lines, "AWS: target groups (gennaker's AWS load balancers' names) the server group's instances join, one per line."),
        Field::new("capacity.min", "Min", Input::Number, "Fewest instances."),
        Field::new("capacity.max", "Max", Input::Number, "Most instances."),
        Field::new("capacity.desired", "Desired", Input::Number, "Instances to run: min <= desired <= max."),
        Field::new("artifact.command", "Command", Input::Lines, "What each instance runs, one argument per line; the local cloud's demo is demo-app. Leave empty to deploy what a Find Image stage found."),
        Field::new("artifact.version", "Version", Input::Text, "The version shown for the server group, e.g. v2 or ${parameters.version}."),
        Field::new("loadBalancers", "Load balancers", Input::Lines, "Load balancers the server group joins, one per line."),
        Field::new("securityGroups", "Firewalls", Input::Lines, "Security groups, one per line."),
        Field::new("tags", "Tags", Input::Pairs, "NAME=VALUE per line: shown in the server group's details, found by search and the clusters filter, copied on clone."),
        Field::new("strategy", "Strategy", strategies, "How the new server group replaces the old ones."),
        Field::new("maxRemainingAsgs", "Server groups kept", Input::Number, "Red/black: server groups the cluster keeps, the new one included; older ones are destroyed."),
        Field::new("delayBeforeCleanup", "Delay before disabling (s)", Input::Number, "Red/black: seconds to wait after the new server group is healthy."),
        Field::new("scaleDown", "Scale down replaced server groups", Input::Check, "Red/black: disabled server groups go to zero instances."),
        Field::new("targetPercentages", "Rolling steps (%)", Input::Numbers, "Rolling red/black: e.g. 25, 50, 100."),
        Field::new("canaryCapacity", "Canary instances", Input::Number, "Canary: how many instances the canary runs."),
        Field::new(
            "canaryAnalysis",
            "Automated canary",
            Input::Json,
            "Canary: {\"steps\": [{\"setWeight\": 10}, {\"analysis\": {}}, {\"pause\": {\"duration\": \"1m\"}}, {\"setWeight\": 50}, {\"analysis\": {}}], \"analysis\": {\"canaryConfigId\": \"...\", \"metricsAccountName\": \"prometheus\", \"lifetimeDuration\": \"PT10M\", \"scoreThresholds\": {\"pass\": 75, \"marginal\": 50}}}: traffic moves to the canary (and an equal baseline) by weight, each analysis judges it, then it is promoted or rolled back by itself.",
        ),
        Field::new("waitForHealthyTimeoutSec", "Healthy within (s)", Input::Number, "Seconds every new instance has to pass its health checks (default 600)."),
        Field::new("rollback.onFailure", "Roll back on failure", Input::Check, "If the deploy fails, destroy the new server group and keep the old one serving."),
    ]);
    FieldList { key: "clusters".into(), noun: "Cluster".into(), fields, new_item: new_cluster(application), min_items: 1, empty: String::new() }
}
