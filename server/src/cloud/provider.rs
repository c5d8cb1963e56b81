//! The provider trait every cloud implements (local now; AWS and Kubernetes later). Operations
//! are idempotent: creating what exists, or destroying what is gone, succeeds without change,
//! so an engine task may safely run one again after a crash. Provider types are converted to
//! gennaker's (`app::model::cluster`) at the edge.

use app::model::cluster::{Artifact, Capacity, LoadBalancer, Location, SecurityGroup, ServerGroup};
use app::model::scaling::{LaunchSettings, ScalingPolicy, ScheduledAction};
use std::collections::BTreeMap;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// The provider refused or failed; its reason, as it gave it.
    #[error("{0}")]
    Provider(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to create.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerGroupSpec {
    /// `application-stack-detail-vNNN`.
    pub name: String,
    pub location: Location,
    pub capacity: Capacity,
    pub artifact: Artifact,
    pub load_balancers: Vec<String>,
    pub security_groups: Vec<String>,
    /// Kept with the server group; deploys put their client token here, so a deploy retried
    /// after a crash finds the server group it already created.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// How VM instances launch (AWS: the launch template); other clouds ignore it.
    #[serde(default, skip_serializing_if = "LaunchSettings::is_empty")]
    pub launch: LaunchSettings,
    /// Created with the server group (a deploy copies the cluster's newest group's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaling_policies: Vec<ScalingPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scheduled_actions: Vec<ScheduledAction>,
}

/// A one-off process (Run Job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// Idempotence: a second start with the same token does nothing.
    pub token: String,
    pub location: Location,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    Running,
    Exited { code: i32, output: String },
    /// Never started here, or lost (gennaker restarted while it ran).
    Unknown,
}

/// Everything a provider runs in one account and region. Serialized when published for the
/// other instances on the same database (`cloud::leases`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub server_groups: Vec<ServerGroup>,
    pub load_balancers: Vec<LoadBalancer>,
    pub security_groups: Vec<SecurityGroup>,
}

/// Every call names the account and region it acts in (a `Location`, or the spec's), so one
/// provider serves many accounts and regions; a provider refuses a location it does not serve.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// The lease a location's caching agent holds while it observes there, when several
    /// instances share one database (`cloud::leases`).
    fn lease_name(&self, location: &Location) -> String {
        format!("cache:{}:{}:{}", self.name(), location.account, location.region)
    }
    /// Told after each try for the lease of a location it serves whether this instance holds
    /// it (only when instances share a database). The local cloud starts or stops its
    /// processes here; others have nothing to do.
    async fn lease_held(&self, _held: bool) {}
    async fn observe(&self, account: &str, region: &str) -> Result<Snapshot>;
    async fn create_server_group(&self, spec: ServerGroupSpec) -> Result<ServerGroup>;
    async fn resize(&self, location: &Location, name: &str, capacity: Capacity) -> Result<()>;
    async fn enable(&self, location: &Location, name: &str) -> Result<()>;
    async fn disable(&self, location: &Location, name: &str) -> Result<()>;
    async fn destroy(&self, location: &Location, name: &str) -> Result<()>;
    async fn upsert_load_balancer(&self, load_balancer: LoadBalancer) -> Result<LoadBalancer>;
    async fn delete_load_balancer(&self, location: &Location, name: &str) -> Result<()>;
    async fn upsert_security_group(&self, security_group: SecurityGroup) -> Result<SecurityGroup>;
    async fn delete_security_group(&self, location: &Location, name: &str) -> Result<()>;
    async fn run_job(&self, spec: JobSpec) -> Result<()>;
    async fn job_status(&self, location: &Location, token: &str) -> Result<JobStatus>;
    async fn cancel_job(&self, location: &Location, token: &str) -> Result<()>;
    /// Creates or replaces a scaling policy of a server group (named `<kind>-N` when it has no
    /// name); returns it as stored.
    async fn upsert_scaling_policy(&self, _location: &Location, _server_group: &str, _policy: ScalingPolicy) -> Result<ScalingPolicy> {
        Err(Error::Invalid(format!("the {} cloud has no scaling policies", self.name())))
    }
    /// Deletes a scaling policy; one already gone is no error.
    async fn delete_scaling_policy(&self, _location: &Location, _server_group: &str, _policy_name: &str) -> Result<()> {
        Err(Error::Invalid(format!("the {} cloud has no scaling policies", self.name())))
    }
    /// Makes `actions` the server group's scheduled actions (the others are deleted).
    async fn set_scheduled_actions(&self, _location: &Location, _server_group: &str, _actions: Vec<ScheduledAction>) -> Result<Vec<ScheduledAction>> {
        Err(Error::Invalid(format!("the {} cloud has no scheduled actions", self.name())))
    }
    /// The log of the build a server group built from source ran (its end, at most 64 KB);
    /// `None` for a server group not built here. Providers that do not build have none.
    async fn build_log(&self, _location: &Location, _name: &str) -> Result<Option<String>> {
        Ok(None)
    }
    /// What each server group answered through each load balancer the provider itself runs
    /// (the local cloud's), for `/metrics`: (load balancer, server group, counts). Providers
    /// whose balancers are the cloud's own have none here.
    async fn load_balancer_traffic(&self) -> Vec<(String, String, crate::cloud::local::balancer::GroupTraffic)> {
        Vec::new()
    }
    /// Splits a load balancer's traffic between server groups by weight (`None`: evenly over
    /// every instance in service), for canaries that shift traffic in steps.
    async fn set_traffic_weights(&self, _location: &Location, load_balancer: &str, _weights: Option<std::collections::BTreeMap<String, u32>>) -> Result<()> {
        Err(Error::Invalid(format!("the {} cloud cannot weigh traffic on load balancer {load_balancer}", self.name())))
    }
}
