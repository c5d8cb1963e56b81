//! Server functions for ad-hoc tasks (Spinnaker's orchestrations): executions of a few stages
//! outside any pipeline, such as the actions of the Clusters tab.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::cluster::TaskRequest;
use crate::model::execution::Execution;

/// How many of an application's tasks the Tasks tab lists.
pub const RECENT_TASKS: u32 = 50;

/// An application's recent tasks (newest first) and the sequence number of the last event
/// before they were read, to watch live changes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecentTasks {
    pub tasks: Vec<Execution>,
    pub seq: i64,
}

#[server]
pub async fn list_tasks(application: String) -> Result<RecentTasks, AppError> {
    crate::ssr::respond(async |services, caller| {
        // The sequence number first: an event between the two reads is then sent again, never lost.
        let seq = services.executions.latest_seq(&caller, &application).await?;
        let tasks = services.tasks.list(&caller, &application, RECENT_TASKS).await?;
        Ok(RecentTasks { tasks, seq })
    })
    .await
}

/// Any task, its jobs given as stage configurations (`{"type": "resizeServerGroup", ...}`).
#[server(input = Json)]
pub async fn submit_task(request: TaskRequest) -> Result<Execution, AppError> {
    crate::ssr::respond(async |services, caller| services.tasks.submit(&caller, request).await).await
}

#[server]
pub async fn get_task(id: String) -> Result<Execution, AppError> {
    crate::ssr::respond(async |services, caller| services.tasks.get(&caller, &id).await).await
}

#[server]
pub async fn cancel_task(id: String) -> Result<Execution, AppError> {
    crate::ssr::respond(async |services, caller| services.tasks.cancel(&caller, &id).await).await
}
