//! The server function behind an application's Overview tab (`ViewService::overview`; REST
//! `GET /api/v1/applications/{app}/overview`): what it runs and what it did lately, read in
//! one round trip so the tab renders complete on the server.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::cluster::ClusterHeader;
use crate::model::execution::Execution;

/// How many pipeline runs the Overview shows.
pub const RECENT_EXECUTIONS: usize = 10;
/// How many clusters the Overview shows; the Clusters tab pages through the rest.
pub const OVERVIEW_CLUSTERS: usize = 20;

/// An application at a glance.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// The first [`OVERVIEW_CLUSTERS`] clusters (by account and region, then name), summed up:
    /// counts and health, and the newest server group. Never their instances, so the tab stays
    /// small however big the application.
    pub clusters: Vec<ClusterHeader>,
    /// How many clusters the application has in all.
    pub cluster_count: usize,
    /// The last pipeline runs, newest first.
    pub executions: Vec<Execution>,
    /// Tasks not finished yet, newest first.
    pub running_tasks: Vec<Execution>,
    /// The sequence number of the last event before the executions were read, to watch from.
    pub seq: i64,
}

#[server]
pub async fn get_overview(application: String) -> Result<Overview, AppError> {
    crate::ssr::respond(async |services, caller| services.views.overview(&caller, &application).await).await
}
