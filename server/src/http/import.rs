//! `POST /api/v1/import`: a Spinnaker export (Front50 applications and pipeline documents) in
//! one call, with what became of each (see `service::import`).

use app::error::ErrorBody;
use app::model::import::{ImportBundle, ImportReport};
use app::ssr::Services;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import))
}

/// Creates the applications that are missing and saves each pipeline as `POST
/// .../pipelines` would (the caller's permissions apply); a pipeline stored as the export has it
/// is left alone. Answers per item: created/exists, imported/importedWithWarnings/unchanged, or
/// refused with the reason.
#[utoipa::path(post, path = "/import", tag = "pipelines", request_body = ImportBundle,
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn import(State(services): State<Services>, Authenticated(caller): Authenticated, Json(bundle): Json<ImportBundle>) -> Result<Json<ImportReport>, ApiError> {
    Ok(Json(crate::service::import::import(&services, &caller, bundle).await?))
}
