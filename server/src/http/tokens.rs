//! `/api/v1/tokens`: the caller's personal API tokens.

use app::error::ErrorBody;
use app::model::auth::{ApiToken, CreatedApiToken, NewApiToken};
use app::ssr::Services;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(revoke))
}

/// Creates a token for the caller. The answer holds its secret: the only time it is shown.
#[utoipa::path(post, path = "/tokens", tag = "auth", request_body = NewApiToken,
    responses((status = 201, body = CreatedApiToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn create(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Json(new): Json<NewApiToken>,
) -> Result<(StatusCode, Json<CreatedApiToken>), ApiError> {
    Ok((StatusCode::CREATED, Json(services.auth.create_token(&caller, new).await?)))
}

/// The caller's tokens, without secrets.
#[utoipa::path(get, path = "/tokens", tag = "auth",
    responses((status = 200, body = [ApiToken]), (status = 401, body = ErrorBody)))]
pub async fn list(State(services): State<Services>, Authenticated(caller): Authenticated) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(services.auth.list_tokens(&caller).await?))
}

/// Revokes one of the caller's tokens at once.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "auth", params(("id" = String, Path, description = "token id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.auth.revoke_token(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
