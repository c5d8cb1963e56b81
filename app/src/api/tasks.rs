//! Server functions for ad-hoc tasks (Spinnaker's orchestrations): executions of a few stages
//! outside any pipeline, such as the actions of the Clusters tab.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::cluster::TaskRequest;
use crate::model::execution::Execution;

/// How many of an application's tasks the Tasks tab lists on a page.
pub const TASKS_PER_PAGE: u32 = 50;

/// One page of an application's tasks (newest first), whether an older page follows, and the
/// sequence number of the last event before they were read, to watch live changes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecentTasks {
    pub tasks: Vec<Execution>,
    pub has_next: bool,
    pub seq: i64,
}

/// Page `page` (from 1) of the application's tasks. The service only takes a limit, so this
/// reads every task up to the end of the page (and one more, to know whether another page
/// follows) and drops the earlier pages: cheap for the few pages anyone looks at. The service
/// reads at most 500, so the last page is the ninth.
#[server]
pub async fn list_tasks(application: String, page: u32) -> Result<RecentTasks, AppError> {
    let page = page.clamp(1, 9);
    crate::ssr::respond(async |services, caller| {
        // The sequence number first: an event between the two reads is then sent again, never lost.
        let seq = services.executions.latest_seq(&caller, &application).await?;
        let per_page = TASKS_PER_PAGE as usize;
        let read = services.tasks.list(&caller, &application, page * TASKS_PER_PAGE + 1).await?;
        let has_next = read.len() > page as usize * per_page && page < 9;
        let tasks = read.into_iter().skip((page as usize - 1) * per_page).take(per_page).collect();
        Ok(RecentTasks { tasks, has_next, seq })
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
