//! The server function behind the header's search box (`ViewService::search`; REST
//! `GET /api/v1/search?q=`): applications, clusters and server groups whose name contains the
//! text typed.

use leptos::prelude::*;

use crate::error::AppError;

/// At most this many hits of each kind are answered: a search box is not a report.
pub const MAX_HITS: usize = 100;

/// A cluster or server group found, with where it runs (a server group's `cluster` is the
/// cluster it belongs to; a cluster's is its own name).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    pub application: String,
    pub account: String,
    pub region: String,
    pub cluster: String,
    pub name: String,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    pub applications: Vec<String>,
    pub clusters: Vec<Hit>,
    pub server_groups: Vec<Hit>,
}

/// Case-insensitive substring search; blank text finds nothing.
#[server]
pub async fn search(text: String) -> Result<SearchResults, AppError> {
    crate::ssr::respond(async |services, caller| services.views.search(&caller, &text).await).await
}
