//! `/api/v1/tasks`: ad-hoc tasks (Spinnaker's orchestrations) such as resizing a server group
//! from the UI: `{"application", "description", "job": [{"type": "resizeServerGroup", ...}]}`.

use app::error::ErrorBody;
use app::model::cluster::TaskRequest;
use app::model::execution::Execution;
use app::ssr::Services;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(submit)).routes(routes!(read)).routes(routes!(cancel)).routes(routes!(list))
}

/// Runs the jobs one after another as an execution without a pipeline (needs EXECUTE on the
/// application and WRITE on the accounts the jobs change). Answers the new task.
#[utoipa::path(post, path = "/tasks", tag = "tasks", request_body = TaskRequest,
    responses((status = 201, description = "the task (an execution)"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn submit(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Json(request): Json<TaskRequest>,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    Ok((StatusCode::CREATED, Json(services.tasks.submit(&caller, request).await?)))
}

/// One task with its stages, tasks, outputs and errors.
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", params(("id" = String, Path, description = "task id")),
    responses((status = 200, description = "the task"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<Json<Execution>, ApiError> {
    Ok(Json(services.tasks.get(&caller, &id).await?))
}

/// Cancels a running task (needs EXECUTE).
#[utoipa::path(put, path = "/tasks/{id}/cancel", tag = "tasks", params(("id" = String, Path, description = "task id")),
    responses((status = 200, description = "the task"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<Json<Execution>, ApiError> {
    Ok(Json(services.tasks.cancel(&caller, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1 to 500 (default 25).
    limit: Option<u32>,
}

/// The application's tasks, newest first.
#[utoipa::path(get, path = "/applications/{application}/tasks", tag = "tasks",
    params(("application" = String, Path, description = "application name"), ListQuery),
    responses((status = 200, description = "tasks"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(application): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Execution>>, ApiError> {
    Ok(Json(services.tasks.list(&caller, &application, query.limit.unwrap_or(25)).await?))
}
