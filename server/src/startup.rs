//! Builds the whole application (store, services, router) and serves it until a shutdown
//! signal. Tests call the same code with port 0, so they exercise what production runs.

use std::net::SocketAddr;
use std::sync::Arc;

use app::{App, shell};
use axum::Router;
use axum::middleware;
use axum::routing::get;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::config::ServeConfig;
use crate::http::{self, health};
use crate::metrics::{self, Metrics};
use crate::service;
use crate::state::AppState;
use crate::store::Store;

/// A bound listener and the router it will serve.
pub struct Server {
    listener: TcpListener,
    router: Router,
    pub state: AppState,
}

impl Server {
    pub async fn build(config: &ServeConfig) -> anyhow::Result<Self> {
        let store = Store::open(&config.database.database_url).await?;
        tracing::info!(database = %config.database.database_url, backend = ?store.backend(), "store ready");
        let listener = TcpListener::bind(config.listen).await?;
        let address = listener.local_addr()?;
        let leptos_options = LeptosOptions::builder()
            .output_name("gennaker")
            .site_root(config.resolved_site_root().display().to_string())
            .site_pkg_dir("pkg")
            .site_addr(address)
            .build();
        let state = AppState {
            leptos_options,
            services: service::build(store.clone()),
            store,
            metrics: Arc::new(Metrics::new()),
        };
        let router = router(state.clone(), config);
        Ok(Self { listener, router, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        tracing::info!(address = %format!("http://{}", self.local_addr()), "gennaker listening");
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await?;
        self.state.store.close().await;
        Ok(())
    }
}

fn router(state: AppState, config: &ServeConfig) -> Router {
    let routes = generate_route_list(App);
    let services = state.services.clone();
    let options = state.leptos_options.clone();
    let mut public = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if config.public_metrics {
        public = public.route("/metrics", get(metrics::serve));
    }
    Router::new()
        .merge(public)
        .nest("/api/v1", http::api_router())
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(services.clone()),
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
