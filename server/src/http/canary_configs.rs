//! `/api/v1/applications/{application}/canaryConfigs` and `/api/v1/canaryConfigs/{id}`: canary
//! configurations in Kayenta's JSON shape (what `kayentaCanary` stages name by
//! `canaryConfigId`), each answered with `revision`, `updatedTimestamp`,
//! `updatedTimestampIso` and `lastModifiedBy`, and their revisions. Gate's `/v2/canaryConfig`
//! routes (for `spin canary canary-config` and Deck) are in `gate_api`.

use app::error::ErrorBody;
use app::model::canary::StoredCanaryConfig;
use app::ssr::Services;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, save)).routes(routes!(read, update, remove)).routes(routes!(history))
}

/// The canary configs this application is one of the applications of, by name (needs READ).
#[utoipa::path(get, path = "/applications/{application}/canaryConfigs", tag = "canary",
    params(("application" = String, Path, description = "application")),
    responses((status = 200, description = "canary configs in Kayenta's shape, with revision and updatedTimestamp"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(application): Path<String>,
) -> Result<Json<Vec<StoredCanaryConfig>>, ApiError> {
    Ok(Json(services.canary_configs.list(&caller, &application).await?))
}

/// Creates a canary config (Kayenta's JSON; without `id` one is made), or saves a new revision
/// of the one whose `id` the body names. The application joins the config's `applications`
/// when missing. Needs WRITE on every application the config names (and, for a new revision,
/// on those it named). 400 names the field at fault (`metrics[1].query.type`); 409 when the
/// name is taken in the first application or `revision` is stale.
#[utoipa::path(post, path = "/applications/{application}/canaryConfigs", tag = "canary", request_body = Object,
    params(("application" = String, Path, description = "application")),
    responses((status = 200, description = "the saved canary config"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn save(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(application): Path<String>,
    Json(config): Json<Value>,
) -> Result<Json<StoredCanaryConfig>, ApiError> {
    Ok(Json(services.canary_configs.save(&caller, &application, config).await?))
}

/// One canary config (needs READ on one of its applications).
#[utoipa::path(get, path = "/canaryConfigs/{canaryConfigId}", tag = "canary",
    params(("canaryConfigId" = String, Path, description = "canary config id")),
    responses((status = 200, description = "the canary config"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<Json<StoredCanaryConfig>, ApiError> {
    Ok(Json(services.canary_configs.get(&caller, &id).await?))
}

/// Saves a new revision of the canary config (needs WRITE on every application it names, before
/// and after). Send the `revision` you edited to be refused (409) if someone saved since.
#[utoipa::path(put, path = "/canaryConfigs/{canaryConfigId}", tag = "canary", request_body = Object,
    params(("canaryConfigId" = String, Path, description = "canary config id")),
    responses((status = 200, description = "the saved canary config"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(config): Json<Value>,
) -> Result<Json<StoredCanaryConfig>, ApiError> {
    Ok(Json(services.canary_configs.update(&caller, &id, config).await?))
}

/// Deletes the canary config and its revisions (needs WRITE on every application it names).
#[utoipa::path(delete, path = "/canaryConfigs/{canaryConfigId}", tag = "canary",
    params(("canaryConfigId" = String, Path, description = "canary config id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    services.canary_configs.delete(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every saved revision, newest first, each as it was saved (needs READ on one of the config's
/// applications).
#[utoipa::path(get, path = "/canaryConfigs/{canaryConfigId}/history", tag = "canary",
    params(("canaryConfigId" = String, Path, description = "canary config id")),
    responses((status = 200, description = "revisions, newest first"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<StoredCanaryConfig>>, ApiError> {
    Ok(Json(services.canary_configs.history(&caller, &id).await?))
}
