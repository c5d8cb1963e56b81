//! The stage types that change what runs in a cloud (deploy, resize, enable, disable,
//! destroy, rollback, clone, find image, the cluster-wide ones and run job), with Orca's field
//! names so Spinnaker pipelines paste in unchanged. `account` also reads Spinnaker's
//! `credentials`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cluster::{Artifact, Capacity};
use super::pipeline::Extra;

fn local() -> String {
    "local".to_string()
}

fn one() -> u32 {
    1
}

/// Which server group of a cluster a stage acts on, Spinnaker's `target` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSelector {
    /// The newest server group.
    #[serde(alias = "current_asg")]
    CurrentAsgDynamic,
    /// The one before the newest.
    #[serde(alias = "ancestor_asg")]
    AncestorAsgDynamic,
    OldestAsgDynamic,
    /// The one with the most desired instances (the newest of equals).
    LargestAsgDynamic,
}

/// Where a stage acts: a cloud location and either a server group by name or a cluster and a
/// `target` in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerGroupTarget {
    #[serde(default = "local")]
    pub cloud_provider: String,
    #[serde(default = "local", alias = "credentials")]
    pub account: String,
    #[serde(default = "local")]
    pub region: String,
    /// An explicit server group (`asgName` in older Spinnaker pipelines).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "asgName")]
    pub server_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSelector>,
}

/// Where a cluster-wide stage acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterTarget {
    #[serde(default = "local")]
    pub cloud_provider: String,
    #[serde(default = "local", alias = "credentials")]
    pub account: String,
    #[serde(default = "local")]
    pub region: String,
    pub cluster: String,
}

/// What a deploy runs: a command line on the local cloud (`demo-app ...` is the built-in demo),
/// a Docker image or a machine image. Untyped, as users write it; the `type` tag is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl ArtifactSpec {
    pub fn to_artifact(&self) -> Result<Artifact, String> {
        if !self.command.is_empty() {
            let version = if self.version.is_empty() { "unversioned".to_string() } else { self.version.clone() };
            return Ok(Artifact::Command { command: self.command.clone(), version });
        }
        if let Some(reference) = &self.reference {
            return Ok(Artifact::DockerImage { reference: reference.clone() });
        }
        if let Some(image_id) = &self.image_id {
            return Ok(Artifact::MachineImage { image_id: image_id.clone() });
        }
        Err("artifact needs a command, a Docker image reference or an imageId".to_string())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackOptions {
    /// On a failed deploy, destroy the new server group and keep the previous one serving.
    #[serde(default)]
    pub on_failure: bool,
}

/// One cluster of a deploy stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterDeploy {
    #[serde(default = "local")]
    pub cloud_provider: String,
    #[serde(default = "local", alias = "credentials")]
    pub account: String,
    #[serde(default = "local")]
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
    /// Seconds to wait for every new instance to be healthy (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_healthy_timeout_sec: Option<u64>,
    #[serde(default)]
    pub rollback: RollbackOptions,
    #[serde(flatten)]
    pub extra: Extra,
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

/// `scale_exact` (to `capacity`), `scale_up`/`scale_down` (by `scaleNum` instances or
/// `scalePct` percent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeAction {
    #[default]
    ScaleExact,
    ScaleUp,
    ScaleDown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResizeServerGroupStage {
    #[serde(flatten)]
    pub target: ServerGroupTarget,
    #[serde(default)]
    pub action: ResizeAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_num: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_pct: Option<u32>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Enable, disable and destroy take only a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerGroupStage {
    #[serde(flatten)]
    pub target: ServerGroupTarget,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Rolls a cluster back: the target (default: the newest) is replaced by the server group
/// named `restoreServerGroupName`, or else the one created before it, which is resized to the
/// target's capacity if smaller, enabled, checked healthy; then the target is disabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackServerGroupStage {
    #[serde(flatten)]
    pub target: ServerGroupTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_server_group_name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Copies a server group into the next version of its cluster, with overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloneServerGroupStage {
    #[serde(flatten)]
    pub target: ServerGroupTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<ArtifactSpec>,
    /// Disable the source once the clone is healthy.
    #[serde(default)]
    pub disable_source: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SelectionStrategy {
    #[default]
    Newest,
    Oldest,
    Largest,
    /// Fail unless exactly one server group matches.
    Fail,
}

/// Finds the artifact a cluster runs; a later deploy without an artifact uses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindImageStage {
    #[serde(flatten)]
    pub cluster: ClusterTarget,
    #[serde(default)]
    pub selection_strategy: SelectionStrategy,
    #[serde(default = "yes")]
    pub only_enabled: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

fn yes() -> bool {
    true
}

/// Destroys all but the `shrinkToSize` newest (or largest) server groups of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShrinkClusterStage {
    #[serde(flatten)]
    pub cluster: ClusterTarget,
    #[serde(default = "one")]
    pub shrink_to_size: u32,
    /// Without it, enabled server groups are kept whatever their rank.
    #[serde(default)]
    pub allow_delete_active: bool,
    #[serde(default)]
    pub retain_larger_over_newer: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Disables all but the `remainingEnabledServerGroups` newest (or largest) enabled ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisableClusterStage {
    #[serde(flatten)]
    pub cluster: ClusterTarget,
    #[serde(default = "one")]
    pub remaining_enabled_server_groups: u32,
    #[serde(default)]
    pub prefer_larger_over_newer: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Scales all but the `remainingFullSizeServerGroups` newest (or largest) to zero instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleDownClusterStage {
    #[serde(flatten)]
    pub cluster: ClusterTarget,
    #[serde(default = "one")]
    pub remaining_full_size_server_groups: u32,
    /// Without it, enabled server groups are not scaled down.
    #[serde(default)]
    pub allow_scale_down_active: bool,
    #[serde(default)]
    pub prefer_larger_over_newer: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Runs a one-off process to completion; its exit code and output are the stage's outputs,
/// and a non-zero exit fails it. Lines of output `KEY=VALUE` after a line `SPINNAKER_PROPERTIES`
/// become outputs too (Spinnaker's property file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunJobStage {
    #[serde(default = "local")]
    pub cloud_provider: String,
    #[serde(default = "local", alias = "credentials")]
    pub account: String,
    #[serde(default = "local")]
    pub region: String,
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Extra,
}
