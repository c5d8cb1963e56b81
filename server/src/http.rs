//! The REST API under `/api/v1` (the public, documented contract) and the health routes.

pub mod applications;
pub mod error;
pub mod health;
pub mod openapi;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub use error::{ApiError, Json};

/// Everything under `/api/v1`; unknown paths there answer a JSON 404, not the UI's page.
pub fn api_router() -> Router<AppState> {
    Router::new()
        .merge(applications::router())
        .route("/openapi.json", get(openapi::serve))
        .fallback(error::unknown_route)
}
