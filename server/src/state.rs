//! What every handler can reach.

use std::sync::Arc;

use app::ssr::Services;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::metrics::Metrics;
use crate::store::Store;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Services,
    pub store: Store,
    pub metrics: Arc<Metrics>,
}
