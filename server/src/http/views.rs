//! `/api/v1/search` and `/api/v1/applications/{name}/overview`: what the header's search box
//! and an application's Overview tab show, for automation too.

use app::api::overview::Overview;
use app::api::search::SearchResults;
use app::error::ErrorBody;
use app::ssr::Services;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::Query;
use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search)).routes(routes!(overview))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Text the names contain (case-insensitive); blank finds nothing.
    q: String,
}

/// Applications, clusters and server groups the caller may read whose name contains `q`, at
/// most 100 of each.
#[utoipa::path(get, path = "/search", tag = "applications", params(SearchQuery),
    responses((status = 200, body = SearchResults), (status = 400, body = ErrorBody)))]
pub async fn search(State(services): State<Services>, Authenticated(caller): Authenticated, Query(query): Query<SearchQuery>) -> Result<Json<SearchResults>, ApiError> {
    Ok(Json(services.views.search(&caller, &query.q).await?))
}

/// The application at a glance (needs READ): its first 20 clusters summed up (`clusterCount`
/// says how many there are), its last pipeline runs, its unfinished tasks, and the event
/// sequence number to watch from.
#[utoipa::path(get, path = "/applications/{name}/overview", tag = "applications",
    params(("name" = String, Path, description = "application name")),
    responses((status = 200, description = "clusters, clusterCount, executions, runningTasks, seq"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn overview(State(services): State<Services>, Authenticated(caller): Authenticated, Path(name): Path<String>) -> Result<Json<Overview>, ApiError> {
    Ok(Json(services.views.overview(&caller, &name).await?))
}
