//! `/api/v1/audit`: the audit log, newest first (admins only).

use app::error::ErrorBody;
use app::model::auth::AuditEntry;
use app::ssr::Services;
use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries with an id below this (the `id` of the last entry of the previous page).
    before: Option<i64>,
    /// At most this many entries, 1 to 500 (default 100).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = [AuditEntry]), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    Ok(Json(services.audit.list(&caller, query.before, query.limit.unwrap_or(100)).await?))
}
