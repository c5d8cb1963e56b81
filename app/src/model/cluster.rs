//! What runs in a cloud: clusters of server groups made of instances, the load balancers that
//! send them traffic and the security groups that guard them. Field names follow Spinnaker's
//! Clouddriver so that existing scripts read them unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::scaling::{LaunchSettings, ScalingPolicy, ScheduledAction};
use super::time::EpochMillis;

/// Where a resource lives: provider, account and region (`local`/`local`/`local` for the
/// embedded cloud).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub cloud_provider: String,
    pub account: String,
    pub region: String,
}

/// Which application and cluster a resource belongs to, when its provider says so (Kubernetes'
/// `moniker.spinnaker.io/*` annotations) rather than its name (`application-stack-detail-vNNN`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Moniker {
    pub application: String,
    /// The cluster (`deployment web`), empty for load balancers and security groups.
    #[serde(default)]
    pub cluster: String,
}

/// Minimum, maximum and desired number of instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
}

impl Capacity {
    /// `min <= desired <= max`, as every cloud's autoscaling group demands.
    pub fn is_consistent(&self) -> bool {
        self.min <= self.desired && self.desired <= self.max
    }
}

/// What a server group runs: a machine image, a container image, or (on the local cloud) a
/// command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Artifact {
    #[serde(rename_all = "camelCase")]
    Command { command: Vec<String>, version: String },
    #[serde(rename_all = "camelCase")]
    DockerImage { reference: String },
    #[serde(rename_all = "camelCase")]
    MachineImage { image_id: String },
    /// A source location the local cloud checks out at `commit`, builds once per commit with
    /// `build` (may be empty) and runs with `run` in the checkout.
    #[serde(rename_all = "camelCase")]
    Source { repository: String, commit: String, build: Vec<String>, run: Vec<String> },
}

impl Artifact {
    /// What it runs, in a few characters: a command's version, else the image (a commit's
    /// first twelve characters).
    pub fn label(&self) -> String {
        match self {
            Artifact::Command { version, .. } => version.clone(),
            Artifact::DockerImage { reference } => reference.clone(),
            Artifact::MachineImage { image_id } => image_id.clone(),
            Artifact::Source { commit, .. } => commit.chars().take(12).collect(),
        }
    }
}

/// An instance's health as Spinnaker aggregates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HealthState {
    Up,
    Down,
    Starting,
    OutOfService,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub name: String,
    pub health_state: HealthState,
    pub launch_time: EpochMillis,
    /// Where it can be reached, e.g. `127.0.0.1:41023` on the local cloud.
    #[serde(default)]
    pub address: String,
    /// The process id, on the local cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerGroup {
    /// `application-stack-detail-vNNN`.
    pub name: String,
    #[serde(flatten)]
    pub location: Location,
    pub capacity: Capacity,
    pub artifact: Artifact,
    /// Disabled server groups take no traffic from their load balancers.
    pub disabled: bool,
    pub load_balancers: Vec<String>,
    pub security_groups: Vec<String>,
    pub instances: Vec<Instance>,
    pub created_time: EpochMillis,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Set by providers that do not name server groups by the convention (Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moniker: Option<Moniker>,
    /// How its VM instances launch (AWS); empty elsewhere.
    #[serde(default, skip_serializing_if = "LaunchSettings::is_empty")]
    pub launch: LaunchSettings,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaling_policies: Vec<ScalingPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scheduled_actions: Vec<ScheduledAction>,
}

/// A Kubernetes workload as its API server has it now: the raw manifest (less the server's
/// field bookkeeping) and its events, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkloadManifest {
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub manifest: serde_json::Value,
    pub events: Vec<WorkloadEvent>,
}

/// One Kubernetes event of a workload (`kubectl describe`'s Events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkloadEvent {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
    pub message: String,
    pub count: u32,
    pub last_seen: EpochMillis,
}

/// Server groups that share a cluster name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub name: String,
    pub application: String,
    pub server_groups: Vec<ServerGroup>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Tcp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    pub port: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    pub path: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    /// `application[-stack[-detail]]`.
    pub name: String,
    #[serde(flatten)]
    pub location: Location,
    pub listeners: Vec<Listener>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Set by providers that do not name load balancers by the convention (Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moniker: Option<Moniker>,
    /// AWS: `classic` (an ELB), `application` or `network` (ELBv2). None elsewhere, and on AWS
    /// means "by the listeners": application when HTTP, network when TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_type: Option<LoadBalancerType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LoadBalancerType {
    Classic,
    Application,
    Network,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressRule {
    /// e.g. `127.0.0.0/8`.
    pub cidr: String,
    pub protocol: Protocol,
    pub start_port: u16,
    pub end_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    pub name: String,
    #[serde(flatten)]
    pub location: Location,
    #[serde(default)]
    pub description: String,
    pub ingress: Vec<IngressRule>,
    /// Set by providers that do not name security groups by the convention (Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moniker: Option<Moniker>,
}

/// How many of a server group's instances are in each health state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InstanceCounts {
    pub total: u32,
    pub up: u32,
    pub down: u32,
    pub starting: u32,
    pub out_of_service: u32,
    pub unknown: u32,
}

impl InstanceCounts {
    pub fn of(instances: &[Instance]) -> Self {
        let mut counts = Self { total: instances.len() as u32, ..Self::default() };
        for instance in instances {
            match instance.health_state {
                HealthState::Up => counts.up += 1,
                HealthState::Down => counts.down += 1,
                HealthState::Starting => counts.starting += 1,
                HealthState::OutOfService => counts.out_of_service += 1,
                HealthState::Unknown => counts.unknown += 1,
            }
        }
        counts
    }

    /// Adds another server group's counts to these (a cluster's counts are its groups' sum).
    pub fn add(&mut self, other: &InstanceCounts) {
        self.total += other.total;
        self.up += other.up;
        self.down += other.down;
        self.starting += other.starting;
        self.out_of_service += other.out_of_service;
        self.unknown += other.unknown;
    }
}

/// A server group as the clusters view lists it: everything but the instances themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerGroupSummary {
    pub name: String,
    pub cluster: String,
    #[serde(flatten)]
    pub location: Location,
    pub capacity: Capacity,
    pub artifact: Artifact,
    pub disabled: bool,
    pub load_balancers: Vec<String>,
    pub security_groups: Vec<String>,
    pub instance_counts: InstanceCounts,
    pub created_time: EpochMillis,
    /// The user's tags (see [`user_tags`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Its scaling policies' names and scheduled actions (`schedule-1 0 9 * * * desired=2`),
    /// so the view shows that it scales by itself and follows changes live.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaling: Vec<String>,
}

/// Metadata keys gennaker keeps for itself start with this; the rest are the user's tags.
pub const RESERVED_TAG_PREFIX: &str = "gennaker.";

/// A server group's tags as its users set them (its metadata less gennaker's own keys).
pub fn user_tags(metadata: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    metadata.iter().filter(|(key, _)| !key.starts_with(RESERVED_TAG_PREFIX)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Whether a filter text matches a tag: `key=value` exactly, or text in a key or a value.
pub fn tags_match(tags: &BTreeMap<String, String>, text: &str) -> bool {
    let text = text.trim().to_lowercase();
    if text.is_empty() {
        return false;
    }
    match text.split_once('=') {
        Some((key, value)) => tags.iter().any(|(k, v)| k.to_lowercase() == key.trim() && v.to_lowercase() == value.trim()),
        None => tags.iter().any(|(k, v)| k.to_lowercase().contains(&text) || v.to_lowercase().contains(&text)),
    }
}

impl ServerGroupSummary {
    pub fn of(server_group: &ServerGroup, cluster: &str) -> Self {
        Self {
            name: server_group.name.clone(),
            cluster: cluster.to_string(),
            location: server_group.location.clone(),
            capacity: server_group.capacity,
            artifact: server_group.artifact.clone(),
            disabled: server_group.disabled,
            load_balancers: server_group.load_balancers.clone(),
            security_groups: server_group.security_groups.clone(),
            instance_counts: InstanceCounts::of(&server_group.instances),
            created_time: server_group.created_time,
            tags: user_tags(&server_group.metadata),
            scaling: server_group
                .scaling_policies
                .iter()
                .map(|policy| policy.policy_name.clone())
                .chain(server_group.scheduled_actions.iter().map(|action| format!("{} {}", action.scheduled_action_name, action.line())))
                .collect(),
        }
    }
}

/// One cluster's server groups, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary {
    pub name: String,
    pub server_groups: Vec<ServerGroupSummary>,
}

/// An application's clusters in one account and region (`GET /api/v1/applications/{app}/clusters`
/// answers a list of these, ordered by account then region).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionClusters {
    pub cloud_provider: String,
    pub account: String,
    pub region: String,
    pub clusters: Vec<ClusterSummary>,
}

/// Which cluster: where it is and its name (a cluster of the same name may be in several
/// accounts and regions).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterKey {
    #[serde(flatten)]
    pub location: Location,
    pub name: String,
}

/// A cluster's newest server group, as its summary names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NewestServerGroup {
    pub name: String,
    /// What it runs, in a few characters: a command's version, else the image.
    pub version: String,
    pub enabled: bool,
}

/// A cluster summed up without its server groups or instances: the `expand=false` form of
/// `GET /api/v1/applications/{app}/clusters`, what a collapsed cluster shows, and what the live
/// socket pushes for a changed cluster to a subscriber that asked for `"expand": false`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterHeader {
    pub name: String,
    #[serde(flatten)]
    pub location: Location,
    pub server_group_count: u32,
    pub enabled_server_group_count: u32,
    /// Its server groups' instances by health state, summed.
    pub instance_counts: InstanceCounts,
    /// Absent only for a cluster with no server group (which the cache never lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<NewestServerGroup>,
}

impl ClusterHeader {
    /// The summary of cluster `name` at `location` made of `server_groups`.
    pub fn of<'a>(location: &Location, name: &str, server_groups: impl IntoIterator<Item = &'a ServerGroupSummary>) -> Self {
        let mut header = Self {
            name: name.to_string(),
            location: location.clone(),
            server_group_count: 0,
            enabled_server_group_count: 0,
            instance_counts: InstanceCounts::default(),
            newest: None,
        };
        let mut newest: Option<&ServerGroupSummary> = None;
        for group in server_groups {
            header.server_group_count += 1;
            header.enabled_server_group_count += u32::from(!group.disabled);
            header.instance_counts.add(&group.instance_counts);
            if newest.is_none_or(|known| (group.created_time, &group.name) > (known.created_time, &known.name)) {
                newest = Some(group);
            }
        }
        header.newest = newest.map(|group| NewestServerGroup { name: group.name.clone(), version: group.artifact.label(), enabled: !group.disabled });
        header
    }

    pub fn key(&self) -> ClusterKey {
        ClusterKey { location: self.location.clone(), name: self.name.clone() }
    }
}

/// Every cluster of a view summed up, in the view's order (by account and region, then name);
/// only `cluster` when given.
pub fn cluster_headers(regions: &[RegionClusters], cluster: Option<&str>) -> Vec<ClusterHeader> {
    regions
        .iter()
        .flat_map(|region| {
            let location = Location { cloud_provider: region.cloud_provider.clone(), account: region.account.clone(), region: region.region.clone() };
            region
                .clusters
                .iter()
                .filter(move |found| cluster.is_none_or(|name| found.name == name))
                .map(move |found| ClusterHeader::of(&location, &found.name, &found.server_groups))
        })
        .collect()
}

/// Pushed on `/api/v1/ws/clusters` whenever anything of the application changes in the cache:
/// its whole clusters view, so a client never has to merge (the default, `"expand": true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterEvent {
    pub application: String,
    pub regions: Vec<RegionClusters>,
}

/// Pushed on `/api/v1/ws/clusters` to a subscriber that asked for `"expand": false`: clusters
/// summed up, never their server groups or instances. The first message (`snapshot: true`, and
/// again whenever the server could not keep up) has every cluster; later ones only the clusters
/// that changed (a server group or instance of theirs, or new) and those that are gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterChanges {
    pub application: String,
    #[serde(default)]
    pub snapshot: bool,
    pub clusters: Vec<ClusterHeader>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<ClusterKey>,
}

fn yes() -> bool {
    true
}

/// The first message a client sends on `/api/v1/ws/clusters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSubscribe {
    pub application: String,
    /// `true` (the default): whole views ([`ClusterEvent`]); `false`: [`ClusterChanges`].
    #[serde(default = "yes")]
    pub expand: bool,
}

fn local() -> String {
    "local".to_string()
}

/// The body of `POST /api/v1/loadBalancers` (create or replace). The name follows the naming
/// convention: `application[-stack[-detail]]`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerRequest {
    #[serde(default = "local")]
    pub cloud_provider: String,
    #[serde(default = "local")]
    pub account: String,
    #[serde(default = "local")]
    pub region: String,
    pub application: String,
    #[serde(default)]
    pub stack: String,
    #[serde(default)]
    pub detail: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Object>))]
    pub listeners: Vec<Listener>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// AWS: `classic`, `application` or `network` (default: by the listeners).
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    #[serde(default)]
    pub load_balancer_type: Option<LoadBalancerType>,
}

/// The body of `POST /api/v1/securityGroups` (create or replace); named like a load balancer.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecurityGroupRequest {
    #[serde(default = "local")]
    pub cloud_provider: String,
    #[serde(default = "local")]
    pub account: String,
    #[serde(default = "local")]
    pub region: String,
    pub application: String,
    #[serde(default)]
    pub stack: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub description: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Object>))]
    pub ingress: Vec<IngressRule>,
}

/// The body of `POST /api/v1/tasks`: an ad-hoc task, Spinnaker's orchestration shape. Each job
/// is a stage configuration (`{"type":"resizeServerGroup", ...}`); they run one after another.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskRequest {
    pub application: String,
    #[serde(default)]
    pub description: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Object>))]
    pub job: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_group_json_uses_clouddriver_names() {
        let server_group = ServerGroup {
            name: "demo-web-v001".into(),
            location: Location { cloud_provider: "local".into(), account: "local".into(), region: "local".into() },
            capacity: Capacity { min: 1, max: 3, desired: 2 },
            artifact: Artifact::Command { command: vec!["demo-app".into()], version: "v1".into() },
            disabled: false,
            load_balancers: vec!["demo-web".into()],
            security_groups: vec![],
            instances: vec![],
            created_time: 0,
            metadata: BTreeMap::new(),
            moniker: None,
            launch: Default::default(),
            scaling_policies: vec![],
            scheduled_actions: vec![],
        };
        let json = serde_json::to_value(&server_group).unwrap();
        assert!(json.get("moniker").is_none(), "no moniker for a name that follows the convention");
        assert_eq!(json["cloudProvider"], "local");
        assert_eq!(json["loadBalancers"][0], "demo-web");
        assert_eq!(json["artifact"]["type"], "command");
        let back: ServerGroup = serde_json::from_value(json).unwrap();
        assert_eq!(back, server_group);
    }

    #[test]
    fn capacity_must_be_ordered() {
        assert!(Capacity { min: 1, max: 3, desired: 2 }.is_consistent());
        assert!(!Capacity { min: 2, max: 3, desired: 1 }.is_consistent());
    }
}

#[cfg(test)]
mod tag_tests {
    use std::collections::BTreeMap;

    use super::{tags_match, user_tags};

    #[test]
    fn user_tags_leave_gennakers_keys_out_and_match_filters() {
        let metadata = BTreeMap::from([
            ("gennaker.clientToken".to_string(), "run/1".to_string()),
            ("team".to_string(), "Payments".to_string()),
        ]);
        let tags = user_tags(&metadata);
        assert_eq!(tags.len(), 1);
        assert!(tags_match(&tags, "team=payments"), "key=value, case-insensitive");
        assert!(tags_match(&tags, "pay"), "text in a value");
        assert!(!tags_match(&tags, "team=billing"));
        assert!(!tags_match(&tags, "clienttoken"), "gennaker's keys are not tags");
    }
}
