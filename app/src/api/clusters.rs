//! Server functions for the Clusters, Load Balancers and Firewalls tabs: what runs where, and
//! the load balancers and security groups around it. Actions on server groups are ad-hoc tasks:
//! see [`submit_server_group_task`].

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::cluster::{LoadBalancer, LoadBalancerRequest, SecurityGroup, SecurityGroupRequest, ServerGroup};
use crate::model::cluster_page::{ClustersPage, ClustersPageQuery};
use crate::model::execution::Execution;

/// One page of the Clusters tab: filtered, paged, big pages collapsed (see
/// [`crate::model::cluster_page`]).
#[server(input = Json)]
pub async fn get_clusters_page(application: String, query: ClustersPageQuery) -> Result<ClustersPage, AppError> {
    crate::ssr::respond(async |services, caller| services.clusters.clusters_page(&caller, &application, &query).await).await
}

#[server]
pub async fn get_server_group(application: String, account: String, region: String, name: String) -> Result<ServerGroup, AppError> {
    crate::ssr::respond(async |services, caller| services.clusters.server_group(&caller, &application, &account, &region, &name).await).await
}

/// The Create server group form, as a browser posts it (plain text fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CreateServerGroupForm {
    pub application: String,
    #[serde(default)]
    pub stack: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub min: String,
    #[serde(default)]
    pub max: String,
    #[serde(default)]
    pub desired: String,
    /// The command line, one argument per line.
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub version: String,
    /// Load balancer names, comma or space separated.
    #[serde(default)]
    pub load_balancers: String,
    /// Tags, `KEY=VALUE` per line.
    #[serde(default)]
    pub tags: String,
    /// `local` (the default) or `aws`.
    #[serde(default)]
    pub cloud_provider: String,
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub region: String,
    /// AWS: the machine image, an AMI id or name.
    #[serde(default)]
    pub image: String,
    /// AWS: the instance type (default t3.micro).
    #[serde(default)]
    pub instance_type: String,
}

/// Creates a server group on the local cloud or an AWS account (Deck's Create Server Group): a
/// one-job task deploying the next version of the cluster, with the tags given.
#[server]
pub async fn create_server_group(#[server(flatten)] form: CreateServerGroupForm) -> Result<Execution, AppError> {
    crate::ssr::respond(async |services, caller| {
        let request = super::server_group_tasks::create_request(&form)?;
        services.tasks.submit(&caller, request).await
    })
    .await
}

/// The log of the build a server group built from source ran (the details panel).
#[server]
pub async fn get_build_log(application: String, account: String, region: String, name: String) -> Result<Option<String>, AppError> {
    crate::ssr::respond(async |services, caller| services.clusters.build_log(&caller, &application, &account, &region, &name).await).await
}

/// A Kubernetes server group's raw manifest and events (the details panel).
#[server]
pub async fn get_workload_manifest(application: String, account: String, region: String, name: String) -> Result<crate::model::cluster::WorkloadManifest, AppError> {
    crate::ssr::respond(async |services, caller| services.clusters.workload_manifest(&caller, &application, &account, &region, &name).await).await
}

/// The fields of the details panel's action forms, as a browser posts them: `action` is
/// `resize`, `enable`, `disable`, `rollback` (with `restore`), `clone` (optionally `min`, `max`,
/// `desired`) or `destroy` (with `confirm`, the server group's name typed again).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerGroupForm {
    pub application: String,
    pub cloud_provider: String,
    pub account: String,
    pub region: String,
    pub server_group: String,
    pub action: String,
    #[serde(default)]
    pub min: Option<String>,
    #[serde(default)]
    pub max: Option<String>,
    #[serde(default)]
    pub desired: Option<String>,
    #[serde(default)]
    pub restore: Option<String>,
    #[serde(default)]
    pub confirm: Option<String>,
    /// The server group's cluster (a Kubernetes ReplicaSet's is its Deployment, `deployment web`).
    #[serde(default)]
    pub cluster: Option<String>,
    /// Scaling forms (`targetTracking`, `stepPolicy`, `deletePolicy`, `schedule`): the policy
    /// replaced or deleted.
    #[serde(default)]
    pub policy_name: Option<String>,
    /// Target tracking: `predefinedMetricType`; step: the alarm's `metricName`.
    #[serde(default)]
    pub metric: Option<String>,
    #[serde(default)]
    pub target_value: Option<String>,
    #[serde(default)]
    pub warmup: Option<String>,
    /// A checkbox: present ("on") when ticked.
    #[serde(default)]
    pub disable_scale_in: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub statistic: Option<String>,
    #[serde(default)]
    pub comparison: Option<String>,
    #[serde(default)]
    pub threshold: Option<String>,
    #[serde(default)]
    pub period: Option<String>,
    #[serde(default)]
    pub evaluation_periods: Option<String>,
    #[serde(default)]
    pub adjustment_type: Option<String>,
    #[serde(default)]
    pub adjustment: Option<String>,
    /// Scheduled actions, one per line: `<cron line> min=N max=N desired=N`.
    #[serde(default)]
    pub schedule: Option<String>,
}

/// One of the details panel's actions on a server group, submitted as a one-job task. Plain
/// form fields (flattened), so the panel's forms also work without WASM.
#[server]
pub async fn submit_server_group_task(#[server(flatten)] form: ServerGroupForm) -> Result<Execution, AppError> {
    crate::ssr::respond(async |services, caller| {
        let request = super::server_group_tasks::task_request(&form)?;
        services.tasks.submit(&caller, request).await
    })
    .await
}

#[server]
pub async fn list_load_balancers(application: String) -> Result<Vec<LoadBalancer>, AppError> {
    crate::ssr::respond(async |services, caller| services.clusters.load_balancers(&caller, &application).await).await
}

/// Creates or replaces a load balancer (the name comes from application, stack and detail).
#[server(input = Json)]
pub async fn upsert_load_balancer(request: LoadBalancerRequest) -> Result<LoadBalancer, AppError> {
    crate::ssr::respond(async |services, caller| services.clusters.upsert_load_balancer(&caller, request).await).await
}

#[server]
pub async fn delete_load_balancer(account: String, region: String, name: String) -> Result<(), AppError> {
    crate::ssr::respond(async |services, caller| services.clusters.delete_load_balancer(&caller, &account, &region, &name).await).await
}

#[server]
pub async fn list_security_groups(application: String) -> Result<Vec<SecurityGroup>, AppError> {
    crate::ssr::respond(async |services, caller| services.clusters.security_groups(&caller, &application).await).await
}

/// Creates or replaces a security group and its ingress rules.
#[server(input = Json)]
pub async fn upsert_security_group(request: SecurityGroupRequest) -> Result<SecurityGroup, AppError> {
    crate::ssr::respond(async |services, caller| services.clusters.upsert_security_group(&caller, request).await).await
}

#[server]
pub async fn delete_security_group(account: String, region: String, name: String) -> Result<(), AppError> {
    crate::ssr::respond(async |services, caller| services.clusters.delete_security_group(&caller, &account, &region, &name).await).await
}
