//! `/api/v1/executions`: read, list, cancel, judge, skip waits, evaluate expressions.

use app::error::ErrorBody;
use app::model::execution::{Execution, ExecutionQuery, Judgment};
use app::ssr::Services;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::Query;
use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(read))
        .routes(routes!(cancel))
        .routes(routes!(judge))
        .routes(routes!(skip_wait))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(restart_stage))
        .routes(routes!(evaluate))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(rename_all = "camelCase")]
pub struct ListQuery {
    /// Only this application's executions.
    application: Option<String>,
    /// Only this pipeline's (id, or name with `application`).
    pipeline: Option<String>,
    /// Comma-separated statuses, e.g. `RUNNING,BUFFERED`.
    statuses: Option<String>,
    /// Only runs with this trigger type: `manual`, `cron`, `webhook`, `pipeline`, `docker`,
    /// `jenkins`, `git`...
    trigger: Option<String>,
    /// Only runs built at or after this time (epoch milliseconds).
    started_after: Option<i64>,
    /// Only runs with a parameter value containing this text (case-insensitive, at most 200
    /// characters).
    search: Option<String>,
    /// The next page: only runs listed after this one (the `id` of the last run of the
    /// previous page, same filters).
    before: Option<String>,
    /// 1 to 500 (default 25).
    limit: Option<u32>,
}

/// Executions, newest first (by `buildTime`, then `id`), of applications the caller may read.
/// Filters apply on the server to every run; page with `before`.
#[utoipa::path(get, path = "/executions", tag = "executions", params(ListQuery),
    responses((status = 200, description = "executions"), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Execution>>, ApiError> {
    let ListQuery { application, pipeline, statuses, trigger, started_after, search, before, limit } = query;
    let query = ExecutionQuery { application, pipeline, statuses, limit, trigger, started_after, search, before };
    Ok(Json(services.executions.list(&caller, query).await?))
}

/// One execution with its stages, tasks, context, outputs and errors (needs READ).
#[utoipa::path(get, path = "/executions/{id}", tag = "executions", params(("id" = String, Path, description = "execution id")),
    responses((status = 200, description = "the execution"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<Json<Execution>, ApiError> {
    Ok(Json(services.executions.get(&caller, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CancelQuery {
    /// Why, shown on the execution.
    reason: Option<String>,
}

/// Cancels the run at once: running stages end CANCELED (needs EXECUTE).
#[utoipa::path(put, path = "/executions/{id}/cancel", tag = "executions", params(("id" = String, Path, description = "execution id"), CancelQuery),
    responses((status = 200, description = "the execution"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Query(query): Query<CancelQuery>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(services.executions.cancel(&caller, &id, query.reason).await?))
}

/// Judges a waiting manual judgment: `{"judgmentStatus":"continue"|"stop","judgmentInput":"..."}`
/// (needs EXECUTE).
#[utoipa::path(patch, path = "/executions/{id}/stages/{stageId}", tag = "executions", request_body = Judgment,
    params(("id" = String, Path, description = "execution id"), ("stageId" = String, Path, description = "stage id")),
    responses((status = 200, description = "the execution"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn judge(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((id, stage)): Path<(String, String)>,
    Json(judgment): Json<Judgment>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(services.executions.judge(&caller, &id, &stage, judgment).await?))
}

/// Holds a running execution: running tasks stop being looked at and nothing new starts until
/// it is resumed (needs EXECUTE).
#[utoipa::path(put, path = "/executions/{id}/pause", tag = "executions", params(("id" = String, Path, description = "execution id")),
    responses((status = 200, description = "the execution"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn pause(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<Json<Execution>, ApiError> {
    Ok(Json(services.executions.pause(&caller, &id).await?))
}

/// Picks a paused execution up where it stopped (needs EXECUTE).
#[utoipa::path(put, path = "/executions/{id}/resume", tag = "executions", params(("id" = String, Path, description = "execution id")),
    responses((status = 200, description = "the execution"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resume(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<Json<Execution>, ApiError> {
    Ok(Json(services.executions.resume(&caller, &id).await?))
}

/// Runs a finished (typically failed) stage and everything after it again, with its
/// expressions evaluated anew (needs EXECUTE).
#[utoipa::path(put, path = "/executions/{id}/stages/{stageId}/restart", tag = "executions",
    params(("id" = String, Path, description = "execution id"), ("stageId" = String, Path, description = "stage id")),
    responses((status = 200, description = "the execution"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn restart_stage(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((id, stage)): Path<(String, String)>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(services.executions.restart_stage(&caller, &id, &stage).await?))
}

/// Ends a running wait stage now (needs EXECUTE).
#[utoipa::path(put, path = "/executions/{id}/stages/{stageId}/skipWait", tag = "executions",
    params(("id" = String, Path, description = "execution id"), ("stageId" = String, Path, description = "stage id")),
    responses((status = 200, description = "the execution"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn skip_wait(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((id, stage)): Path<(String, String)>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(services.executions.skip_wait(&caller, &id, &stage).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// `${...}` or a bare SpEL expression.
    expression: String,
}

/// Evaluates an expression against the execution (needs READ); 400 says why it failed.
#[utoipa::path(post, path = "/executions/{id}/evaluate", tag = "executions", request_body = EvaluateRequest,
    params(("id" = String, Path, description = "execution id")),
    responses((status = 200, description = "the value"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn evaluate(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(request): Json<EvaluateRequest>,
) -> Result<Json<Value>, ApiError> {
    let value = services.executions.evaluate(&caller, &id, &request.expression).await?;
    Ok(Json(serde_json::json!({"result": value})))
}
