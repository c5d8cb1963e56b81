//! Read models composed from the other services (so each keeps its own authorization): the
//! header's search box and an application's Overview.
//!
//! Search asks the cluster cache for the clusters of every application the caller may read,
//! one application after another: fine for tens of applications, and no index to keep in
//! step. When there are hundreds, the cache should answer a name query itself.

use std::sync::Arc;

use app::api::overview::{Overview, RECENT_EXECUTIONS};
use app::api::search::{Hit, MAX_HITS, SearchResults};
use app::error::Result;
use app::model::auth::Caller;
use app::model::execution::ExecutionQuery;
use app::ssr::{ApplicationService, ClusterService, ExecutionService, TaskService, ViewService};
use async_trait::async_trait;

pub struct Views {
    pub applications: Arc<dyn ApplicationService>,
    pub executions: Arc<dyn ExecutionService>,
    pub clusters: Arc<dyn ClusterService>,
    pub tasks: Arc<dyn TaskService>,
}

#[async_trait]
impl ViewService for Views {
    async fn search(&self, caller: &Caller, text: &str) -> Result<SearchResults> {
        let text = text.trim().to_lowercase();
        let mut results = SearchResults::default();
        if text.is_empty() {
            return Ok(results);
        }
        for application in self.applications.list(caller).await? {
            if application.name.to_lowercase().contains(&text) {
                results.applications.push(application.name.clone());
            }
            // An application whose clusters cannot be read (no cache yet, no account access)
            // simply contributes none: the search still answers for the rest.
            let Ok(regions) = self.clusters.clusters(caller, &application.name).await else { continue };
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
                        if group.name.to_lowercase().contains(&text) || app::model::cluster::tags_match(&group.tags, &text) {
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
    }

    async fn overview(&self, caller: &Caller, application: &str) -> Result<Overview> {
        // The sequence number first: an event between the reads is then sent again, never lost.
        let seq = self.executions.latest_seq(caller, application).await?;
        let mut clusters = self.clusters.cluster_headers(caller, application, None).await?;
        let cluster_count = clusters.len();
        clusters.truncate(app::api::overview::OVERVIEW_CLUSTERS);
        // Pipeline runs only: the execution list leaves tasks (executions without a pipeline) out.
        let query = ExecutionQuery { application: Some(application.to_string()), limit: Some(RECENT_EXECUTIONS as u32), ..Default::default() };
        let executions = self
            .executions
            .list(caller, query)
            .await?
            .into_iter()
            .filter(|execution| !execution.pipeline_config_id.is_empty())
            .take(RECENT_EXECUTIONS)
            .collect();
        let running_tasks = self.tasks.list(caller, application, 50).await?.into_iter().filter(|task| !task.status.is_complete()).collect();
        Ok(Overview { clusters, cluster_count, executions, running_tasks, seq })
    }
}
