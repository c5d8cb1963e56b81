//! `/api/v1/webhooks`: calls that start pipelines. `POST /webhooks/{source}` for webhook
//! triggers, `POST /webhooks/git/{github|gitlab|bitbucket}` for git pushes. A call signed with a
//! trigger's secret needs no sign-in; an unsigned one needs an API token (see
//! `triggers::webhook`). The answer lists the runs started and, for each listening pipeline
//! not started, why.

use app::error::ErrorBody;
use app::model::auth::Caller;
use app::model::trigger::WebhookResponse;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Json};
use crate::state::AppState;
use crate::triggers::webhook::{Delivery, deliver};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(webhook)).routes(routes!(git))
}

async fn receive(state: &AppState, source: &str, headers: &HeaderMap, body: &Bytes, caller: Option<&Caller>) -> Result<Json<WebhookResponse>, ApiError> {
    let delivery = Delivery { body, headers, caller };
    let response = deliver(state.engine.launcher(), &state.secrets, source, delivery).await?;
    if !response.triggered.is_empty() {
        state.engine.wake();
    }
    Ok(Json(response))
}

/// Starts the pipelines whose webhook trigger listens to `source` and whose
/// `payloadConstraints` the JSON body meets. Sign the body with the trigger's secret
/// (`X-Gennaker-Signature-256: sha256=<hex HMAC-SHA256>`) or send an API token.
#[utoipa::path(post, path = "/webhooks/{source}", tag = "triggers", params(("source" = String, Path, description = "the trigger's source")),
    request_body(content = Object, description = "any JSON payload; its `parameters` object sets the run's parameters"),
    responses((status = 200, body = WebhookResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn webhook(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookResponse>, ApiError> {
    receive(&state, &source, &headers, &body, caller.as_ref().map(|c| &c.0)).await
}

/// A git provider's push hook (GitHub with `X-Hub-Signature-256`, GitLab with
/// `X-Gitlab-Token`, Bitbucket): starts the pipelines whose git trigger watches the
/// repository and a matching branch.
#[utoipa::path(post, path = "/webhooks/git/{provider}", tag = "triggers", params(("provider" = String, Path, description = "github, gitlab or bitbucket")),
    request_body(content = Object, description = "the provider's push event"),
    responses((status = 200, body = WebhookResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn git(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookResponse>, ApiError> {
    receive(&state, &format!("git/{provider}"), &headers, &body, caller.as_ref().map(|c| &c.0)).await
}
