//! What every handler can reach.

use std::sync::Arc;

use app::ssr::Services;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::engine::Engine;
use crate::http::openapi::Document;
use crate::metrics::Metrics;
use crate::secrets::Secrets;
use crate::store::Store;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Services,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub openapi: Document,
    pub secrets: Arc<Secrets>,
    pub engine: Engine,
    /// Live execution events, followed once and fanned out to every event socket.
    pub events: crate::event_hub::EventHub,
}
