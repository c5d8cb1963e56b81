//! The REST API under `/api/v1` (the public, documented contract) and the health routes.
//! Routes are registered through `utoipa_axum`, so the router and the OpenAPI document come
//! from the same list: a route cannot exist undocumented (the auth tests walk the document).

pub mod accounts;
pub mod applications;
pub mod audit;
pub mod authenticate;
pub mod canary_configs;
pub mod clusters;
pub mod error;
pub mod executions;
pub mod gate;
pub mod gate_api;
pub mod import;
pub mod metrics_sd;
pub mod health;
pub mod openapi;
pub mod pipelines;
pub mod secrets;
pub mod session;
pub mod tokens;
pub mod tasks;
pub mod users;
pub mod views;
pub mod webhooks;

use app::error::AppError;
use app::model::auth::Caller;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use error::{ApiError, Json};

/// Everything under `/api/v1`, with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(applications::router())
        .merge(session::router())
        .merge(tokens::router())
        .merge(users::router())
        .merge(secrets::router())
        .merge(audit::router())
        .merge(pipelines::router())
        .merge(canary_configs::router())
        .merge(executions::router())
        .merge(accounts::router())
        .merge(clusters::router())
        .merge(tasks::router())
        .merge(webhooks::router())
        .merge(views::router())
        .merge(import::router())
        .merge(metrics_sd::router())
}

/// The caller of a request that the auth layer let through; handlers take it as an argument.
/// Public routes that take it answer 401 when nobody is signed in.
pub struct Authenticated(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Authenticated)
            .ok_or_else(|| ApiError(AppError::unauthenticated("sign in or send an API token")))
    }
}
