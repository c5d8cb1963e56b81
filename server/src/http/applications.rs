//! `/api/v1/applications`: create, list, read, patch and delete applications.

use app::error::ErrorBody;
use app::model::{Application, ApplicationPatch, NewApplication};
use app::ssr::Services;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;

use super::{ApiError, Json};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/applications", get(list).post(create))
        .route("/applications/{name}", get(read).patch(update).delete(remove))
}

/// Every application, ordered by name.
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications",
    responses((status = 200, body = [Application])))]
pub async fn list(State(services): State<Services>) -> Result<Json<Vec<Application>>, ApiError> {
    Ok(Json(services.applications.list().await?))
}

/// Creates an application. Names are folded to lowercase.
#[utoipa::path(post, path = "/api/v1/applications", tag = "applications", request_body = NewApplication,
    responses(
        (status = 201, body = Application),
        (status = 400, description = "a field is invalid or unknown", body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody)))]
pub async fn create(
    State(services): State<Services>,
    Json(new): Json<NewApplication>,
) -> Result<(StatusCode, Json<Application>), ApiError> {
    let created = services.applications.create(new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/api/v1/applications/{name}", tag = "applications",
    params(("name" = String, Path, description = "application name")),
    responses((status = 200, body = Application), (status = 404, body = ErrorBody)))]
pub async fn read(State(services): State<Services>, Path(name): Path<String>) -> Result<Json<Application>, ApiError> {
    Ok(Json(services.applications.get(&name).await?))
}

/// Changes the description or owner email; fields left out stay as they are.
#[utoipa::path(patch, path = "/api/v1/applications/{name}", tag = "applications", request_body = ApplicationPatch,
    params(("name" = String, Path, description = "application name")),
    responses((status = 200, body = Application), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(services): State<Services>,
    Path(name): Path<String>,
    Json(patch): Json<ApplicationPatch>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(services.applications.update(&name, patch).await?))
}

#[utoipa::path(delete, path = "/api/v1/applications/{name}", tag = "applications",
    params(("name" = String, Path, description = "application name")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove(State(services): State<Services>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    services.applications.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
