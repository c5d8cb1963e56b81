//! `/api/v1/applications`: create, list, read, patch, delete, and set permissions.

use app::error::ErrorBody;
use app::model::auth::Permissions;
use app::model::{Application, ApplicationPatch, NewApplication};
use app::ssr::Services;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(set_permissions))
}

/// The applications the caller may read, ordered by name.
#[utoipa::path(get, path = "/applications", tag = "applications",
    responses((status = 200, body = [Application]), (status = 401, body = ErrorBody)))]
pub async fn list(State(services): State<Services>, Authenticated(caller): Authenticated) -> Result<Json<Vec<Application>>, ApiError> {
    Ok(Json(services.applications.list(&caller).await?))
}

/// Creates an application (any signed-in user may). Names are folded to lowercase.
#[utoipa::path(post, path = "/applications", tag = "applications", request_body = NewApplication,
    responses(
        (status = 201, body = Application),
        (status = 400, description = "a field is invalid or unknown", body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody)))]
pub async fn create(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Json(new): Json<NewApplication>,
) -> Result<(StatusCode, Json<Application>), ApiError> {
    let created = services.applications.create(&caller, new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Needs READ.
#[utoipa::path(get, path = "/applications/{name}", tag = "applications",
    params(("name" = String, Path, description = "application name")),
    responses((status = 200, body = Application), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(services.applications.get(&caller, &name).await?))
}

/// Changes the description or owner email; fields left out stay as they are. Needs WRITE.
#[utoipa::path(patch, path = "/applications/{name}", tag = "applications", request_body = ApplicationPatch,
    params(("name" = String, Path, description = "application name")),
    responses((status = 200, body = Application), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
    Json(patch): Json<ApplicationPatch>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(services.applications.update(&caller, &name, patch).await?))
}

/// Needs WRITE.
#[utoipa::path(delete, path = "/applications/{name}", tag = "applications",
    params(("name" = String, Path, description = "application name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.applications.delete(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Grants roles READ, WRITE and EXECUTE (`{"READ":[..],"WRITE":[..],"EXECUTE":[..]}`); all
/// empty opens the application to every signed-in user. Needs WRITE.
#[utoipa::path(put, path = "/applications/{name}/permissions", tag = "applications", request_body = Permissions,
    params(("name" = String, Path, description = "application name")),
    responses((status = 200, body = Application), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_permissions(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
    Json(permissions): Json<Permissions>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(services.applications.set_permissions(&caller, &name, permissions).await?))
}
