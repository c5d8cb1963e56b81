//! What runs in a cloud: clusters of server groups made of instances, the load balancers that
//! send them traffic and the security groups that guard them. Field names follow Spinnaker's
//! Clouddriver so that existing scripts read them unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::time::EpochMillis;

/// Where a resource lives: provider, account and region (`local`/`local`/`local` for the
/// embedded cloud).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub cloud_provider: String,
    pub account: String,
    pub region: String,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// Server groups that share a cluster name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        };
        let json = serde_json::to_value(&server_group).unwrap();
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
