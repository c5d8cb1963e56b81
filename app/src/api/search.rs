//! The server function behind the header's search box: applications, clusters and server
//! groups whose name contains the text typed.
//!
//! For now it asks the cluster cache for the clusters of every application the caller may
//! read, one application after another: fine for tens of applications, and no index to keep
//! in step. When there are hundreds, the cache should answer a name query itself.

use leptos::prelude::*;

use crate::error::AppError;

/// At most this many hits of each kind are answered: a search box is not a report.
pub const MAX_HITS: usize = 100;

/// A cluster or server group found, with where it runs (a server group's `cluster` is the
/// cluster it belongs to; a cluster's is its own name).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    pub application: String,
    pub account: String,
    pub region: String,
    pub cluster: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchResults {
    pub applications: Vec<String>,
    pub clusters: Vec<Hit>,
    pub server_groups: Vec<Hit>,
}

/// Case-insensitive substring search; blank text finds nothing.
#[server]
pub async fn search(text: String) -> Result<SearchResults, AppError> {
    let text = text.trim().to_lowercase();
    crate::ssr::respond(async |services, caller| {
        let mut results = SearchResults::default();
        if text.is_empty() {
            return Ok(results);
        }
        for application in services.applications.list(&caller).await? {
            if application.name.to_lowercase().contains(&text) {
                results.applications.push(application.name.clone());
            }
            // An application whose clusters cannot be read (no cache yet, no account access)
            // simply contributes none: the search still answers for the rest.
            let Ok(regions) = services.clusters.clusters(&caller, &application.name).await else { continue };
            for region in regions {
                for cluster in &region.clusters {
                    let at = |name: &str| Hit {
                        application: application.name.clone(),
                        account: region.account.clone(),
                        region: region.region.clone(),
                        cluster: cluster.name.clone(),
                        name: name.to_string(),
                    };
                    if cluster.name.to_lowercase().contains(&text) {
                        results.clusters.push(at(&cluster.name));
                    }
                    for group in &cluster.server_groups {
                        if group.name.to_lowercase().contains(&text) {
                            results.server_groups.push(at(&group.name));
                        }
                    }
                }
            }
        }
        results.applications.truncate(MAX_HITS);
        results.clusters.truncate(MAX_HITS);
        results.server_groups.truncate(MAX_HITS);
        Ok(results)
    })
    .await
}
