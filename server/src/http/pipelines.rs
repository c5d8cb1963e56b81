//! `/api/v1/applications/{name}/pipelines`: pipeline configurations, their revisions, and
//! starting runs; `/api/v1/applications/{name}/stageTypes`: what the editor offers.

use app::error::{AppError, ErrorBody};
use app::model::execution::{Execution, StartRequest};
use app::model::pipeline::{Pipeline, PipelineRevision};
use app::model::stage_types::StageCatalog;
use app::ssr::Services;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, save))
        .routes(routes!(read, update, remove))
        .routes(routes!(history))
        .routes(routes!(restore))
        .routes(routes!(start))
        .routes(routes!(stage_types))
}

/// The stage types this server runs, as the pipeline editor shows them: type, name, help, fields
/// (with how each is typed in), lists of items, and a new stage's fields for this application
/// (needs READ).
#[utoipa::path(get, path = "/applications/{name}/stageTypes", tag = "pipelines",
    params(("name" = String, Path, description = "application")),
    responses((status = 200, description = "the stage types, in the editor's order"), (status = 403, body = ErrorBody)))]
pub async fn stage_types(State(services): State<Services>, Authenticated(caller): Authenticated, Path(name): Path<String>) -> Result<Json<StageCatalog>, ApiError> {
    Ok(Json(services.pipelines.stage_types(&caller, &name).await?))
}

/// The application's pipelines (needs READ).
#[utoipa::path(get, path = "/applications/{name}/pipelines", tag = "pipelines",
    params(("name" = String, Path, description = "application")),
    responses((status = 200, description = "pipelines in Spinnaker's JSON shape"), (status = 403, body = ErrorBody)))]
pub async fn list(State(services): State<Services>, Authenticated(caller): Authenticated, Path(name): Path<String>) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(services.pipelines.list(&caller, &name).await?.iter().map(Pipeline::to_document).collect()))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaveQuery {
    /// Only check the pipeline, as a save would, and answer it without storing it.
    #[serde(default)]
    dry_run: bool,
}

/// Creates a pipeline, or saves a new revision of the one whose `id` the body names (needs
/// WRITE). Answers 400 naming the field at fault by its path (`stages[1].waitTime`), 409 when
/// `revision` is stale. With `dryRun=true` it only checks.
#[utoipa::path(post, path = "/applications/{name}/pipelines", tag = "pipelines", request_body = Object,
    params(("name" = String, Path, description = "application"), SaveQuery),
    responses((status = 200, description = "the saved (or, dry run, checked) pipeline"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn save(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
    Query(query): Query<SaveQuery>,
    Json(config): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let pipelines = &services.pipelines;
    let answer = if query.dry_run { pipelines.check(&caller, &name, config).await? } else { pipelines.save(&caller, &name, config).await? };
    Ok(Json(answer.to_document()))
}

/// One pipeline, by id or name (needs READ).
#[utoipa::path(get, path = "/applications/{name}/pipelines/{pipeline}", tag = "pipelines",
    params(("name" = String, Path, description = "application"), ("pipeline" = String, Path, description = "pipeline id or name")),
    responses((status = 200, description = "the pipeline"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((name, pipeline)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(services.pipelines.get(&caller, &name, &pipeline).await?.to_document()))
}

/// Saves a new revision of this pipeline (needs WRITE).
#[utoipa::path(put, path = "/applications/{name}/pipelines/{pipeline}", tag = "pipelines", request_body = Object,
    params(("name" = String, Path, description = "application"), ("pipeline" = String, Path, description = "pipeline id or name")),
    responses((status = 200, description = "the saved pipeline"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((name, pipeline)): Path<(String, String)>,
    Json(mut config): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let existing = services.pipelines.get(&caller, &name, &pipeline).await?;
    match config.as_object_mut() {
        Some(object) => {
            object.insert("id".into(), Value::String(existing.id));
        }
        None => return Err(ApiError(AppError::invalid("pipeline", "a pipeline is a JSON object"))),
    }
    Ok(Json(services.pipelines.save(&caller, &name, config).await?.to_document()))
}

/// Deletes the pipeline and its revisions (needs WRITE); its executions stay.
#[utoipa::path(delete, path = "/applications/{name}/pipelines/{pipeline}", tag = "pipelines",
    params(("name" = String, Path, description = "application"), ("pipeline" = String, Path, description = "pipeline id or name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((name, pipeline)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    services.pipelines.delete(&caller, &name, &pipeline).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every saved revision, newest first (needs READ).
#[utoipa::path(get, path = "/applications/{name}/pipelines/{pipeline}/history", tag = "pipelines",
    params(("name" = String, Path, description = "application"), ("pipeline" = String, Path, description = "pipeline id or name")),
    responses((status = 200, description = "revisions"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((name, pipeline)): Path<(String, String)>,
) -> Result<Json<Vec<Value>>, ApiError> {
    // Each revision's pipeline as it was written (see `Pipeline::to_document`).
    let revisions = services.pipelines.history(&caller, &name, &pipeline).await?;
    Ok(Json(revisions.iter().map(revision_document).collect()))
}

fn revision_document(revision: &PipelineRevision) -> Value {
    serde_json::json!({"revision": revision.revision, "updateTs": revision.update_ts, "lastModifiedBy": revision.last_modified_by,
        "pipeline": revision.pipeline.to_document()})
}

/// Saves an old revision's content as the newest revision (needs WRITE).
#[utoipa::path(post, path = "/applications/{name}/pipelines/{pipeline}/history/{revision}/restore", tag = "pipelines",
    params(("name" = String, Path, description = "application"), ("pipeline" = String, Path, description = "pipeline id or name"),
        ("revision" = i64, Path, description = "the revision to restore")),
    responses((status = 200, description = "the pipeline as restored"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn restore(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((name, pipeline, revision)): Path<(String, String, i64)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(services.pipelines.restore(&caller, &name, &pipeline, revision).await?.to_document()))
}

/// Parses an optional JSON body: empty means defaults.
pub fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|error| {
        let message = error.to_string();
        ApiError(AppError::Invalid { field: crate::serde_errors::field_of(&message), message })
    })
}

/// Starts a run with `{"parameters": {...}}` (needs EXECUTE). Parameters are checked against
/// `parameterConfig`: a missing required one or a value outside its options is a 400.
#[utoipa::path(post, path = "/applications/{name}/pipelines/{pipeline}/executions", tag = "executions", request_body = StartRequest,
    params(("name" = String, Path, description = "application"), ("pipeline" = String, Path, description = "pipeline id or name")),
    responses((status = 201, description = "the new execution"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn start(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((name, pipeline)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    let request: StartRequest = optional_body(&body)?;
    Ok((StatusCode::CREATED, Json(services.executions.start(&caller, &name, &pipeline, request).await?)))
}
