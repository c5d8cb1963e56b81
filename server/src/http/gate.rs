//! Spinnaker Gate's shapes for the three calls automation uses most, so existing scripts work
//! unchanged: start a pipeline by application and name, read an execution, judge a stage.

use app::error::ErrorBody;
use app::model::execution::{Execution, Judgment, StartRequest};
use app::ssr::Services;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::pipelines::optional_body;
use super::{ApiError, Authenticated, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(start)).routes(routes!(read)).routes(routes!(judge))
}

/// Gate's trigger body: parameters, plus fields gennaker records but does not need.
#[derive(Debug, Default, Deserialize)]
struct GateTrigger {
    #[serde(default)]
    parameters: std::collections::BTreeMap<String, String>,
    #[serde(flatten)]
    _rest: std::collections::BTreeMap<String, Value>,
}

/// Starts a pipeline as Gate's `POST /pipelines/{application}/{pipelineNameOrId}` does; answers
/// `{"ref": "/pipelines/<id>"}` (needs EXECUTE).
#[utoipa::path(post, path = "/pipelines/{app}/{pipelineName}", tag = "gate", request_body = Object,
    params(("app" = String, Path, description = "application"), ("pipelineName" = String, Path, description = "pipeline name or id")),
    responses((status = 202, description = "{\"ref\": \"/pipelines/<id>\"}"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn start(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((application, pipeline)): Path<(String, String)>,
    body: Bytes,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let trigger: GateTrigger = optional_body(&body)?;
    let request = StartRequest { parameters: trigger.parameters, artifacts: Vec::new() };
    let execution = services.executions.start(&caller, &application, &pipeline, request).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(json!({"ref": format!("/pipelines/{}", execution.id)}))))
}

/// An execution, as Gate's `GET /pipelines/{id}` (needs READ).
#[utoipa::path(get, path = "/pipelines/{id}", tag = "gate", params(("id" = String, Path, description = "execution id")),
    responses((status = 200, description = "the execution"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(services: State<Services>, caller: Authenticated, id: Path<String>) -> Result<Json<Execution>, ApiError> {
    super::executions::read(services, caller, id).await
}

/// Judges a manual judgment, as Gate's `PATCH /pipelines/{id}/stages/{stageId}` (needs EXECUTE).
#[utoipa::path(patch, path = "/pipelines/{id}/stages/{stageId}", tag = "gate", request_body = Judgment,
    params(("id" = String, Path, description = "execution id"), ("stageId" = String, Path, description = "stage id")),
    responses((status = 200, description = "the execution"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn judge(
    services: State<Services>,
    caller: Authenticated,
    path: Path<(String, String)>,
    judgment: Json<Judgment>,
) -> Result<Json<Execution>, ApiError> {
    super::executions::judge(services, caller, path, judgment).await
}
