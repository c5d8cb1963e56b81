//! `/api/v1/users`: users, roles and service accounts (admins; anyone may change their own
//! password).

use app::error::ErrorBody;
use app::model::auth::{NewUser, User, UserPatch};
use app::ssr::Services;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(update, remove))
}

/// Every user (admins only).
#[utoipa::path(get, path = "/users", tag = "auth",
    responses((status = 200, body = [User]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(services): State<Services>, Authenticated(caller): Authenticated) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(services.auth.list_users(&caller).await?))
}

/// Creates a user, or a service account (no password) for automation (admins only).
#[utoipa::path(post, path = "/users", tag = "auth", request_body = NewUser,
    responses((status = 201, body = User), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    Ok((StatusCode::CREATED, Json(services.auth.create_user(&caller, new).await?)))
}

/// Changes roles, admin flag (admins) or password (admins, or the user themself; a new
/// password ends the user's sessions).
#[utoipa::path(patch, path = "/users/{name}", tag = "auth", request_body = UserPatch,
    params(("name" = String, Path, description = "user name")),
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
    Json(patch): Json<UserPatch>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(services.auth.update_user(&caller, &name, patch).await?))
}

/// Deletes a user with their sessions and tokens (admins only).
#[utoipa::path(delete, path = "/users/{name}", tag = "auth", params(("name" = String, Path, description = "user name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.auth.delete_user(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
