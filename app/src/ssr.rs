//! The server half's services as the UI's server functions see them. `app` cannot depend on
//! `server` (the server depends on it), so the server implements these traits and provides a
//! [`Services`] value as Leptos context; server functions fetch it with [`services`].
//! REST handlers call the very same trait objects, so the UI and automation share one house.

use std::sync::Arc;

use async_trait::async_trait;
use leptos::prelude::use_context;

use crate::error::{AppError, Result};
use crate::model::{Application, ApplicationPatch, NewApplication};

#[async_trait]
pub trait ApplicationService: Send + Sync + 'static {
    /// Every application, ordered by name.
    async fn list(&self) -> Result<Vec<Application>>;
    async fn get(&self, name: &str) -> Result<Application>;
    async fn create(&self, new: NewApplication) -> Result<Application>;
    async fn update(&self, name: &str, patch: ApplicationPatch) -> Result<Application>;
    async fn delete(&self, name: &str) -> Result<()>;
}

/// One handle per resource; cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub applications: Arc<dyn ApplicationService>,
}

/// Answers a server function's error with its HTTP status (400, 404, ...) instead of the
/// transport's blanket 500, so the browser and logs tell a bad input from a fault. Plain form
/// posts (no WASM) keep the framework's redirect back to the page.
pub fn with_status<T>(result: Result<T>) -> Result<T> {
    if let Err(error) = &result {
        let plain_form_post = use_context::<http::request::Parts>().is_some_and(|parts| {
            parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
        });
        if let (false, Some(response)) = (plain_form_post, use_context::<leptos_axum::ResponseOptions>()) {
            response.set_status(http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
        }
    }
    result
}

/// The services, inside a server function.
pub fn services() -> Result<Services> {
    use_context::<Services>().ok_or_else(|| {
        leptos::logging::error!("server function called without Services in context");
        AppError::Internal
    })
}
