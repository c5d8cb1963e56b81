//! Builds the whole application (store, services, router) and serves it until a shutdown
//! signal. Tests call the same code with port 0, so they exercise what production runs.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use app::{App, shell};
use axum::Router;
use axum::middleware;
use axum::routing::{any, get};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use app::model::cluster::Location;

use crate::auth::bootstrap;
use crate::cloud::clouds::Clouds;
use crate::cloud::local::cloud::{self as local, LocalCloud};
use crate::cloud::local::sandbox::Sandbox;
use crate::cloud::provider::Provider;
use crate::http::authenticate::{self, AuthLayer};
use crate::auth::service::AuthConfig;
use crate::config::ServeConfig;
use crate::engine::Engine;
use crate::engine::clock::SystemClock;
use crate::http::{self, error, health, openapi};
use crate::metrics::{self, Metrics};
use crate::secrets::SecretKey;
use crate::service;
use crate::state::AppState;
use crate::store::Store;

/// A bound listener and the router it will serve.
pub struct Server {
    listener: TcpListener,
    router: Router,
    pub state: AppState,
    workers: usize,
    local_cloud: Arc<LocalCloud>,
    cache_interval: Duration,
    docker_poll: Duration,
    jenkins_masters: std::collections::BTreeMap<String, String>,
    outbound: crate::outbound::Outbound,
    /// The demo balancer's port and the requests a second sent to it (`--demo-load`).
    demo_load: (u16, u32),
    event_retention_days: u32,
}

impl Server {
    pub async fn build(config: &ServeConfig) -> anyhow::Result<Self> {
        let store = Store::open(&config.database.database_url).await?;
        tracing::info!(database = %config.database.database_url, backend = ?store.backend(), "store ready");
        bootstrap::ensure_admin(&store, config.admin_password.as_ref()).await?;
        let secret_key = match &config.secrets.secret_key {
            Some(key) => SecretKey::from_base64(secrecy::ExposeSecret::expose_secret(key))?,
            None => SecretKey::load_or_create(&config.secrets.secret_key_file)?,
        };

        let listener = TcpListener::bind(config.listen).await?;
        let address = listener.local_addr()?;
        let site_root = config.resolved_site_root();
        let leptos_options = LeptosOptions::builder()
            .output_name("gennaker")
            .site_root(site_root.display().to_string())
            .site_pkg_dir("pkg")
            .site_addr(address)
            .build();
        let auth_config = AuthConfig {
            session_ttl: Duration::from_secs(config.session_hours.max(1) * 3600),
            token_max_days: config.token_max_days,
            secure_cookies: config.secure_cookies,
        };
        let outbound = crate::outbound::Outbound::new(&config.outbound_allow, config.outbound_max_body, Duration::from_secs(10))?;
        let run_as = Some(config.run_as_user.as_str()).filter(|user| !user.is_empty());
        let sandbox = Arc::new(Sandbox::prepare(&config.resolved_work_dir(), run_as)?);
        // Several instances on one PostgreSQL share the caching agents and the local cloud by leases.
        let sharing = crate::cloud::leases::Sharing::new(&store, Duration::from_millis(config.cache_interval_ms.max(50)), address);
        let local_cloud = Arc::new(LocalCloud::start(store.clone(), sandbox, sharing.is_some()).await?);
        let local_location = Location { cloud_provider: "local".into(), account: local::ACCOUNT.into(), region: local::REGION.into() };
        if let Some(path) = &config.clouds_file {
            let file = crate::cloud::accounts::read_file(path)?;
            crate::cloud::accounts::sync_file(&store, &file).await?;
            tracing::info!(path = %path.display(), accounts = file.accounts.len(), "cloud accounts read from the clouds file");
        }
        let secrets = Arc::new(crate::secrets::Secrets::new(store.clone(), secret_key));
        let kubernetes = crate::cloud::kubernetes::KubernetesCloud::new(store.clone(), secrets.clone());
        let aws = crate::cloud::aws::AwsCloud::new(store.clone(), secrets.clone());
        let clouds = Clouds::new(vec![(local_cloud.clone() as Arc<dyn Provider>, vec![local_location])]).with_sharing(sharing).with_kubernetes(kubernetes).with_aws(aws).await;
        clouds.refresh_all().await;
        let engine = Engine::new(store.clone(), Arc::new(SystemClock)).with_lease(config.engine_lease_ms).with_clouds(clouds.clone())
            .with_listener(Arc::new(crate::triggers::pipeline::PipelineTriggers))
            .with_outbound(outbound.clone())
            .with_jenkins_masters(jenkins_masters(config))
            .with_secrets(secrets.clone());
        let built = service::build(store.clone(), auth_config, secrets, engine.clone());
        // The workers' engine delivers notifications, with secrets for addresses and passwords.
        let engine = engine.with_notifier(notifier(&config.notify, address, built.secrets.clone(), outbound.clone()));
        let (api, document) = OpenApiRouter::new()
            .nest("/api/v1", http::api_router())
            .merge(http::gate::router())
            .split_for_parts();
        // Live events: this process's through the engine's channel, other instances' through
        // PostgreSQL's notices (which also wake this process's idle workers).
        let notices = store.listen(engine.wake_handle());
        let events = crate::event_hub::EventHub::start(store.clone(), engine.subscribe(), notices.map(|notices| notices.events));
        let state = AppState {
            events,
            leptos_options,
            services: built.services,
            store: store.clone(),
            metrics: Arc::new(Metrics::new()),
            openapi: Arc::new(document),
            secrets: built.secrets,
            engine,
        };
        let store_for_demo = store.clone();
        let auth_layer = AuthLayer {
            auth: built.auth,
            store,
            public_metrics: config.public_metrics,
            metrics_token: metrics_token(config)?,
            public_files: Arc::new(public_files(&site_root)),
        };
        if config.demo {
            crate::demo::create_if_first_start(&store_for_demo, &clouds, config.demo_port).await?;
        }
        let router = router(state.clone(), api, auth_layer);
        Ok(Self {
            listener,
            router,
            state,
            workers: config.workers.max(1),
            local_cloud,
            cache_interval: Duration::from_millis(config.cache_interval_ms.max(50)),
            docker_poll: Duration::from_millis(config.docker_poll_ms.max(1_000)),
            jenkins_masters: jenkins_masters(config),
            outbound,
            demo_load: (config.demo_port, config.demo_load),
            event_retention_days: config.event_retention_days,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves HTTP and runs the engine's workers until `shutdown` completes, then lets
    /// in-flight requests and engine steps finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        tracing::info!(address = %format!("http://{}", self.local_addr()), workers = self.workers, "gennaker listening");
        let (stop, stopped) = tokio::sync::watch::channel(());
        let workers: Vec<_> = (0..self.workers)
            .map(|_| {
                let mut stopped = stopped.clone();
                tokio::spawn(self.state.engine.clone().run(async move {
                    let _ = stopped.changed().await;
                }))
            })
            .collect();
        // Expired sessions and old runs' event logs, on one instance at a time.
        let sweeper = crate::retention::start(self.state.store.clone(), self.event_retention_days, stopped.clone());
        let agents = self.state.engine.clouds().start_agents(self.cache_interval, stopped.clone());
        let pollers = crate::triggers::pollers::start(self.state.engine.clone(), self.outbound.clone(), self.jenkins_masters.clone(), self.docker_poll, stopped.clone());
        let (demo_port, demo_rate) = self.demo_load;
        let demo_load = tokio::spawn(crate::demo::load::run(demo_port, demo_rate, stopped.clone(), Default::default()));
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        // Events are small writes that must leave at once: without TCP_NODELAY, Nagle's
        // algorithm holds a frame back until the client's delayed ACK (up to 40 ms).
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
        drop(stop);
        for worker in workers {
            let _ = worker.await;
        }
        let _ = sweeper.await;
        let _ = demo_load.await;
        for agent in agents {
            let _ = agent.await;
        }
        for poller in pollers {
            let _ = poller.await;
        }
        // Instances stop with gennaker and start again with it (their state is stored).
        self.local_cloud.shutdown().await;
        self.state.engine.clouds().release_leases().await;
        self.state.store.close().await;
        served
    }
}

fn router(state: AppState, api: Router<AppState>, auth_layer: AuthLayer) -> Router {
    let routes = generate_route_list(App);
    let services = state.services.clone();
    let options = state.leptos_options.clone();
    // `/metrics` is public with --public-metrics (the default), else for users; the metrics
    // token or an admin also get the load balancers' series there.
    let public = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::serve));
    Router::new()
        .merge(public)
        .merge(api)
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/ws", get(crate::ws::upgrade))
        .route("/api/v1/ws/clusters", get(crate::ws_clusters::upgrade))
        .route("/api/v1/{*rest}", any(error::unknown_route))
        .nest("/gate", http::gate_api::router())
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(services.clone()),
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(revalidate_bundle))
        .layer(middleware::from_fn_with_state(auth_layer, authenticate::authenticate))
        .layer(middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(TraceLayer::new_for_http())
        // Outermost, so every answer has them: redirects to sign-in and refusals included.
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// The metrics scraper's token, read from `--metrics-token-file` (surrounding whitespace
/// dropped, as Prometheus does with `credentials_file`). A short one is refused: it guards the
/// list of every instance.
fn metrics_token(config: &ServeConfig) -> anyhow::Result<Option<Arc<str>>> {
    let Some(path) = &config.metrics_token_file else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|error| anyhow::anyhow!("--metrics-token-file {}: {error}", path.display()))?;
    let token = text.trim();
    if token.len() < 16 {
        anyhow::bail!("--metrics-token-file {}: the token must be at least 16 characters", path.display());
    }
    Ok(Some(Arc::from(token)))
}

/// `--jenkins-master name=url` pairs.
fn jenkins_masters(config: &ServeConfig) -> std::collections::BTreeMap<String, String> {
    config.jenkins_masters.iter().filter_map(|pair| pair.split_once('=')).map(|(name, url)| (name.trim().to_string(), url.trim().to_string())).collect()
}

fn notifier(
    config: &crate::config::NotifyConfig,
    address: SocketAddr,
    secrets: Arc<crate::secrets::Secrets>,
    http: crate::outbound::Outbound,
) -> crate::notify::Notifier {
    use crate::notify::{Notifier, SmsSettings, SmtpSettings};
    Notifier {
        http,
        secrets: Some(secrets),
        public_url: config.public_url.clone().unwrap_or_else(|| format!("http://{address}")),
        smtp: config.smtp_host.clone().map(|host| SmtpSettings {
            host,
            port: config.smtp_port,
            tls: config.smtp_tls.clone(),
            from: config.smtp_from.clone(),
            username: config.smtp_username.clone(),
            password_secret: config.smtp_password_secret.clone(),
        }),
        sms: config.sms_api_url.clone().map(|api_url| SmsSettings {
            api_url,
            account_sid: config.sms_account_sid.clone(),
            token_secret: config.sms_token_secret.clone(),
            from: config.sms_from.clone(),
        }),
        hipchat: config.hipchat_url.clone().map(|url| crate::notify::HipchatSettings { url, token_secret: config.hipchat_token_secret.clone() }),
        retry_base_ms: config.notify_retry_ms,
        ..Notifier::default()
    }
}

/// The browser bundle's files keep their names from build to build, and the chunks wasm-split
/// cuts off only work with the main module of their own build: browsers must revalidate them on
/// every use rather than guess how long they stay fresh, or a page could mix a cached chunk of
/// one build with the main module of the next. An unchanged file costs a 304.
async fn revalidate_bundle(request: axum::extract::Request, next: middleware::Next) -> axum::response::Response {
    let bundle = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    if bundle {
        response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-cache"));
    }
    response
}

/// What a page may load and who may frame it. Scripts: this origin, the inline hydration
/// script Leptos writes into each page (hence `'unsafe-inline'`: nonces are the next step) and
/// compiling WebAssembly; sockets and fetches: this origin; no plugins, no framing, forms post
/// here only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
    form-action 'self'; frame-ancestors 'none'";

/// The headers every answer carries: the content security policy, no framing (for browsers
/// without CSP's `frame-ancestors`), no MIME sniffing, no referrer to other sites.
async fn security_headers(request: axum::extract::Request, next: middleware::Next) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// The site root's top-level files (favicon.ico and the like): public, like `/pkg/`.
fn public_files(site_root: &Path) -> HashSet<String> {
    std::fs::read_dir(site_root)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
                .filter_map(|entry| entry.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
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
