//! `/api/v1/secrets`: write-only encrypted values (admins only). Listing shows names and
//! metadata, never values.

use app::error::{AppError, ErrorBody};
use app::model::auth::{SecretInfo, SecretWrite};
use app::ssr::Services;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(put, remove))
}

#[utoipa::path(get, path = "/secrets", tag = "secrets",
    responses((status = 200, body = [SecretInfo]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(services): State<Services>, Authenticated(caller): Authenticated) -> Result<Json<Vec<SecretInfo>>, ApiError> {
    Ok(Json(services.secrets.list(&caller).await?))
}

/// Creates (or replaces) the secret named in the body.
#[utoipa::path(post, path = "/secrets", tag = "secrets", request_body = SecretWrite,
    responses((status = 201, body = SecretInfo), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Json(write): Json<SecretWrite>,
) -> Result<(StatusCode, Json<SecretInfo>), ApiError> {
    let Some(name) = write.name.clone() else {
        return Err(ApiError(AppError::invalid("name", "missing field `name`")));
    };
    Ok((StatusCode::CREATED, Json(services.secrets.put(&caller, &name, write).await?)))
}

/// Creates or replaces the secret `name`.
#[utoipa::path(put, path = "/secrets/{name}", tag = "secrets", request_body = SecretWrite,
    params(("name" = String, Path, description = "secret name")),
    responses((status = 200, body = SecretInfo), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn put(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
    Json(write): Json<SecretWrite>,
) -> Result<Json<SecretInfo>, ApiError> {
    Ok(Json(services.secrets.put(&caller, &name, write).await?))
}

#[utoipa::path(delete, path = "/secrets/{name}", tag = "secrets", params(("name" = String, Path, description = "secret name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.secrets.delete(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
