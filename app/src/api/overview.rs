//! The server function behind an application's Overview tab: what it runs and what it did
//! lately, read in one round trip so the tab renders complete on the server.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::cluster::RegionClusters;
use crate::model::execution::Execution;

/// How many pipeline runs the Overview shows.
pub const RECENT_EXECUTIONS: usize = 10;

/// An application at a glance.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Overview {
    pub clusters: Vec<RegionClusters>,
    /// The last pipeline runs, newest first.
    pub executions: Vec<Execution>,
    /// Tasks not finished yet, newest first.
    pub running_tasks: Vec<Execution>,
    /// The sequence number of the last event before the executions were read, to watch from.
    pub seq: i64,
}

#[server]
pub async fn get_overview(application: String) -> Result<Overview, AppError> {
    crate::ssr::respond(async |services, caller| {
        // The sequence number first: an event between the reads is then sent again, never lost.
        let seq = services.executions.latest_seq(&caller, &application).await?;
        let clusters = services.clusters.clusters(&caller, &application).await?;
        // Pipeline runs only: the execution list leaves tasks (executions without a pipeline) out.
        let query = crate::model::execution::ExecutionQuery {
            application: Some(application.clone()),
            limit: Some(RECENT_EXECUTIONS as u32),
            ..Default::default()
        };
        let executions = services
            .executions
            .list(&caller, query)
            .await?
            .into_iter()
            .filter(|execution| !execution.pipeline_config_id.is_empty())
            .take(RECENT_EXECUTIONS)
            .collect();
        let running_tasks =
            services.tasks.list(&caller, &application, 50).await?.into_iter().filter(|task| !task.status.is_complete()).collect();
        Ok(Overview { clusters, executions, running_tasks, seq })
    })
    .await
}
