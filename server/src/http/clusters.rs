//! `/api/v1` cluster management: an application's clusters (from the cache), one server group
//! with its instances, and load balancers and security groups (Spinnaker's shapes: `POST
//! /loadBalancers` with `application`, `stack`, `listeners`, `healthCheck`).
//!
//! The clusters list has Gate's summary form, `expand=false` (each cluster summed up, no server
//! groups), and `cluster=` for one cluster. Without `expand` it answers as it always did, with
//! every server group: Gate's own `GET /applications/{app}/clusters` takes no `expand` at all
//! (it answers cluster names by account), and the Gate call whose `expand` defaults to false,
//! `GET /applications/{app}/serverGroups`, answers another shape; the scripts written against
//! this route read server groups from its default answer, so that default stays.

use app::error::ErrorBody;
use app::model::cluster::{ClusterHeader, LoadBalancer, LoadBalancerRequest, RegionClusters, SecurityGroup, SecurityGroupRequest, ServerGroup, WorkloadManifest};
use app::ssr::Services;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::Query;
use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(clusters))
        .routes(routes!(server_group))
        .routes(routes!(workload_manifest))
        .routes(routes!(build_log))
        .routes(routes!(load_balancers))
        .routes(routes!(upsert_load_balancer))
        .routes(routes!(delete_load_balancer))
        .routes(routes!(security_groups))
        .routes(routes!(upsert_security_group))
        .routes(routes!(delete_security_group))
}

/// `expand` and `cluster` of `GET /applications/{application}/clusters`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClustersQuery {
    /// `false`: each cluster summed up (account, region, server group counts, instance counts
    /// by health, its newest server group) without its server groups, a flat list as Gate's
    /// `expand=false` answers; `true`, the default: by account and region with every server
    /// group.
    expand: Option<bool>,
    /// Only the cluster of this name (in every account and region that has it).
    cluster: Option<String>,
}

/// The two forms of the clusters answer.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ClustersAnswer {
    Expanded(Vec<RegionClusters>),
    Summary(Vec<ClusterHeader>),
}

/// The application's clusters by account and region, each server group with its capacity,
/// instance counts by health, load balancers, security groups, artifact, created time and
/// whether it is disabled (from the cache; needs READ). With `expand=false` each cluster summed
/// up instead, a flat list in the same order; with `cluster=` only that cluster (an empty list
/// when the application has none of that name).
#[utoipa::path(get, path = "/applications/{application}/clusters", tag = "clusters",
    params(("application" = String, Path, description = "application name"), ClustersQuery),
    responses(
        (status = 200, description = "clusters by account and region (`RegionClusters`), or with `expand=false` a list of `ClusterHeader`"),
        (status = 400, description = "a parameter is not what it should be (`expand=maybe`)", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn clusters(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(application): Path<String>,
    Query(query): Query<ClustersQuery>,
) -> Result<Json<ClustersAnswer>, ApiError> {
    let cluster = query.cluster.as_deref();
    let answer = match (query.expand.unwrap_or(true), cluster) {
        (false, cluster) => ClustersAnswer::Summary(services.clusters.cluster_headers(&caller, &application, cluster).await?),
        (true, Some(cluster)) => ClustersAnswer::Expanded(services.clusters.cluster(&caller, &application, cluster).await?),
        (true, None) => ClustersAnswer::Expanded(services.clusters.clusters(&caller, &application).await?),
    };
    Ok(Json(answer))
}

/// One server group with its instances (health, address, launch time).
#[utoipa::path(get, path = "/applications/{application}/serverGroups/{account}/{region}/{name}", tag = "clusters",
    params(("application" = String, Path, description = "application name"), ("account" = String, Path, description = "account"),
        ("region" = String, Path, description = "region"), ("name" = String, Path, description = "server group name")),
    responses((status = 200, description = "the server group"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn server_group(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((application, account, region, name)): Path<(String, String, String, String)>,
) -> Result<Json<ServerGroup>, ApiError> {
    Ok(Json(services.clusters.server_group(&caller, &application, &account, &region, &name).await?))
}

/// A Kubernetes server group's raw manifest and events, read from its API server now (needs
/// READ on the application and the account).
#[utoipa::path(get, path = "/applications/{application}/serverGroups/{account}/{region}/{name}/manifest", tag = "clusters",
    params(("application" = String, Path, description = "application name"), ("account" = String, Path, description = "account"),
        ("region" = String, Path, description = "the namespace"), ("name" = String, Path, description = "server group name, e.g. `replicaSet web-v001`")),
    responses((status = 200, body = WorkloadManifest), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn workload_manifest(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((application, account, region, name)): Path<(String, String, String, String)>,
) -> Result<Json<WorkloadManifest>, ApiError> {
    Ok(Json(services.clusters.workload_manifest(&caller, &application, &account, &region, &name).await?))
}

/// The log of the build a server group built from source ran (`{"log": null}` for one not
/// built from source).
#[utoipa::path(get, path = "/applications/{application}/serverGroups/{account}/{region}/{name}/buildLog", tag = "clusters",
    params(("application" = String, Path, description = "application name"), ("account" = String, Path, description = "account"),
        ("region" = String, Path, description = "region"), ("name" = String, Path, description = "server group name")),
    responses((status = 200, description = "`{\"log\": text or null}`"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn build_log(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((application, account, region, name)): Path<(String, String, String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let log = services.clusters.build_log(&caller, &application, &account, &region, &name).await?;
    Ok(Json(serde_json::json!({ "log": log })))
}

/// The application's load balancers.
#[utoipa::path(get, path = "/applications/{application}/loadBalancers", tag = "clusters",
    params(("application" = String, Path, description = "application name")),
    responses((status = 200, description = "load balancers"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn load_balancers(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(application): Path<String>,
) -> Result<Json<Vec<LoadBalancer>>, ApiError> {
    Ok(Json(services.clusters.load_balancers(&caller, &application).await?))
}

/// Creates or replaces a load balancer, named `application[-stack[-detail]]` (application
/// WRITE and account WRITE).
#[utoipa::path(post, path = "/loadBalancers", tag = "clusters", request_body = LoadBalancerRequest,
    responses((status = 200, description = "the load balancer"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn upsert_load_balancer(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Json(request): Json<LoadBalancerRequest>,
) -> Result<Json<LoadBalancer>, ApiError> {
    Ok(Json(services.clusters.upsert_load_balancer(&caller, request).await?))
}

/// Deletes a load balancer no server group uses (409 otherwise).
#[utoipa::path(delete, path = "/loadBalancers/{account}/{region}/{name}", tag = "clusters",
    params(("account" = String, Path, description = "account"), ("region" = String, Path, description = "region"), ("name" = String, Path, description = "name")),
    responses((status = 204, description = "deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_load_balancer(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((account, region, name)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    services.clusters.delete_load_balancer(&caller, &account, &region, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The application's security groups (named for it, or used by its load balancers or server
/// groups).
#[utoipa::path(get, path = "/applications/{application}/securityGroups", tag = "clusters",
    params(("application" = String, Path, description = "application name")),
    responses((status = 200, description = "security groups"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn security_groups(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(application): Path<String>,
) -> Result<Json<Vec<SecurityGroup>>, ApiError> {
    Ok(Json(services.clusters.security_groups(&caller, &application).await?))
}

/// Creates or replaces a security group: ingress rules of CIDR, protocol and port range.
#[utoipa::path(post, path = "/securityGroups", tag = "clusters", request_body = SecurityGroupRequest,
    responses((status = 200, description = "the security group"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn upsert_security_group(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Json(request): Json<SecurityGroupRequest>,
) -> Result<Json<SecurityGroup>, ApiError> {
    Ok(Json(services.clusters.upsert_security_group(&caller, request).await?))
}

/// Deletes a security group nothing uses (409 otherwise).
#[utoipa::path(delete, path = "/securityGroups/{account}/{region}/{name}", tag = "clusters",
    params(("account" = String, Path, description = "account"), ("region" = String, Path, description = "region"), ("name" = String, Path, description = "name")),
    responses((status = 204, description = "deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_security_group(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((account, region, name)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    services.clusters.delete_security_group(&caller, &account, &region, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
