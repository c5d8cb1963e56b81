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

/// The services, inside a server function.
pub fn services() -> Result<Services> {
    use_context::<Services>().ok_or_else(|| {
        leptos::logging::error!("server function called without Services in context");
        AppError::Internal
    })
}
