//! The OpenAPI document, generated from the handlers' annotations so it cannot drift from them.

use utoipa::OpenApi;

use super::applications;

#[derive(OpenApi)]
#[openapi(
    info(title = "gennaker", description = "Continuous delivery: cluster management and pipelines."),
    paths(applications::list, applications::create, applications::read, applications::update, applications::remove),
    tags((name = "applications", description = "Applications group clusters and pipelines"))
)]
pub struct ApiDoc;

pub async fn serve() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
