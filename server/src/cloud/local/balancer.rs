//! The local cloud's load balancer: a reverse proxy on its own port that spreads HTTP requests
//! over the healthy instances of enabled server groups. It checks their health (path, interval,
//! timeout, healthy and unhealthy thresholds), stops sending new requests to disabled ones
//! (requests in flight finish: draining), retries a request on another instance when one
//! cannot be reached (so an instance dying is not a failed request), and enforces security group
//! ingress rules on its listener: a connection from outside the allowed ranges is closed at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cloud::cidr::Cidr;

/// Largest request body the balancer buffers (bodies are buffered so a request can be retried).
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Requests a balancer holds at once (each may buffer up to `MAX_BODY`); more are answered 503
/// at once, so a flood of slow uploads cannot take gennaker's memory.
const MAX_IN_FLIGHT: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
}

/// An instance behind the balancer; `enabled` is its server group's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub address: SocketAddr,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
struct TargetState {
    target: Target,
    healthy: bool,
    passes: u32,
    fails: u32,
}

struct Shared {
    targets: RwLock<Vec<TargetState>>,
    /// `None`: no security group, everyone may connect. `Some(ranges)`: only those.
    ingress: RwLock<Option<Vec<Cidr>>>,
    next: AtomicUsize,
    client: reqwest::Client,
    health: Option<HealthCheck>,
    in_flight: tokio::sync::Semaphore,
    /// Requests each target answered (any status), for the local cloud's scaling policies.
    served: std::sync::Mutex<std::collections::HashMap<SocketAddr, u64>>,
}

impl Shared {
    fn admits(&self, peer: SocketAddr) -> bool {
        match &*self.ingress.read().unwrap_or_else(|p| p.into_inner()) {
            None => true,
            Some(ranges) => ranges.iter().any(|range| range.contains(peer.ip())),
        }
    }

    /// In-service targets, starting at the next one in turn.
    fn in_rotation(&self) -> Vec<SocketAddr> {
        let targets = self.targets.read().unwrap_or_else(|p| p.into_inner());
        let live: Vec<SocketAddr> = targets.iter().filter(|t| t.target.enabled && t.healthy).map(|t| t.target.address).collect();
        if live.is_empty() {
            return live;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % live.len();
        live.iter().cycle().skip(start).take(live.len()).copied().collect()
    }
}

/// A listener that closes connections the ingress rules do not admit, before any byte is read.
struct GuardedListener {
    inner: TcpListener,
    shared: Arc<Shared>,
}

impl axum::serve::Listener for GuardedListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) if self.shared.admits(peer) => return (stream, peer),
                Ok((stream, peer)) => {
                    tracing::debug!(%peer, "connection refused by the security group");
                    drop(stream);
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

pub struct Balancer {
    shared: Arc<Shared>,
    address: SocketAddr,
    stop: watch::Sender<()>,
    tasks: Vec<JoinHandle<()>>,
}

impl Balancer {
    /// Listens on `listen` (port 0 picks one) and starts checking health.
    pub async fn start(listen: SocketAddr, health: Option<HealthCheck>) -> std::io::Result<Self> {
        let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(2)).build().map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            targets: RwLock::new(Vec::new()),
            ingress: RwLock::new(None),
            next: AtomicUsize::new(0),
            client,
            health,
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            served: Default::default(),
        });
        let inner = TcpListener::bind(listen).await?;
        let address = inner.local_addr()?;
        let (stop, stopped) = watch::channel(());
        let app = Router::new().fallback(proxy).with_state(shared.clone());
        let mut serving_stop = stopped.clone();
        let listener = GuardedListener { inner, shared: shared.clone() };
        let mut tasks = vec![tokio::spawn(async move {
            let shutdown = async move {
                let _ = serving_stop.changed().await;
            };
            let app = app.into_make_service_with_connect_info::<Peer>();
            if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::error!(%error, "load balancer stopped");
            }
        })];
        if shared.health.is_some() {
            tasks.push(tokio::spawn(check_health(shared.clone(), stopped)));
        }
        Ok(Self { shared, address, stop, tasks })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Replaces the targets, keeping what is known of the health of those that stay. New
    /// targets enter service once they pass `healthyThreshold` checks (at once without checks).
    pub fn set_targets(&self, targets: Vec<Target>) {
        let checked = self.shared.health.is_some();
        let mut current = self.shared.targets.write().unwrap_or_else(|p| p.into_inner());
        let next = targets
            .into_iter()
            .map(|target| match current.iter().find(|t| t.target.address == target.address) {
                Some(known) => TargetState { target, ..known.clone() },
                None => TargetState { target, healthy: !checked, passes: 0, fails: 0 },
            })
            .collect::<Vec<TargetState>>();
        // Counts of targets that left go with them (a replaced instance starts at zero).
        self.shared.served.lock().unwrap_or_else(|p| p.into_inner()).retain(|address, _| next.iter().any(|t| t.target.address == *address));
        *current = next;
    }

    /// Requests each target has answered since it joined, by address.
    pub fn served(&self) -> Vec<(SocketAddr, u64)> {
        self.shared.served.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(address, count)| (*address, *count)).collect()
    }

    /// Applies security group ingress rules: `None` admits everyone.
    pub fn set_ingress(&self, ranges: Option<Vec<Cidr>>) {
        *self.shared.ingress.write().unwrap_or_else(|p| p.into_inner()) = ranges;
    }

    /// Targets that receive traffic now: enabled and healthy.
    pub fn in_service(&self) -> Vec<SocketAddr> {
        let targets = self.shared.targets.read().unwrap_or_else(|p| p.into_inner());
        targets.iter().filter(|t| t.target.enabled && t.healthy).map(|t| t.target.address).collect()
    }

    /// Health as last checked, by address.
    pub fn health(&self) -> Vec<(SocketAddr, bool)> {
        let targets = self.shared.targets.read().unwrap_or_else(|p| p.into_inner());
        targets.iter().map(|t| (t.target.address, t.healthy)).collect()
    }

    /// Stops listening and checking; requests in flight finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn check_health(shared: Arc<Shared>, mut stopped: watch::Receiver<()>) {
    let Some(check) = shared.health.clone() else { return };
    loop {
        let addresses: Vec<SocketAddr> = shared.targets.read().unwrap_or_else(|p| p.into_inner()).iter().map(|t| t.target.address).collect();
        let probes = addresses.iter().map(|address| {
            let request = shared.client.get(format!("http://{address}{}", check.path)).timeout(check.timeout).send();
            async move { (*address, request.await.is_ok_and(|r| r.status().is_success() || r.status().is_redirection())) }
        });
        let results = futures_util::future::join_all(probes).await;
        {
            let mut targets = shared.targets.write().unwrap_or_else(|p| p.into_inner());
            for (address, ok) in results {
                let Some(target) = targets.iter_mut().find(|t| t.target.address == address) else { continue };
                if ok {
                    target.passes += 1;
                    target.fails = 0;
                    if !target.healthy && target.passes >= check.healthy_threshold {
                        target.healthy = true;
                    }
                } else {
                    target.fails += 1;
                    target.passes = 0;
                    if target.healthy && target.fails >= check.unhealthy_threshold {
                        target.healthy = false;
                    }
                }
            }
        }
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(check.interval) => {}
        }
    }
}

fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "te" | "trailer" | "upgrade" | "host" | "content-length"
    )
}

/// Copies the end-to-end headers: not the hop-by-hop ones, nor those the `Connection` header
/// names (RFC 9110 §7.6.1), which a client could otherwise use to smuggle or strip headers.
fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    let named: Vec<String> = from
        .get_all(axum::http::header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in from {
        if !hop_by_hop(name) && !named.iter().any(|listed| listed == name.as_str()) {
            to.append(name.clone(), value.clone());
        }
    }
}

/// The `X-Forwarded-*` headers the balancer, being the edge, vouches for: the client's own
/// address (what a client sent is not kept: it could claim any address) and the host it asked.
fn forwarded_headers(headers: &mut HeaderMap, peer: SocketAddr, host: Option<&axum::http::HeaderValue>) {
    for name in ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded"] {
        headers.remove(name);
    }
    if let Ok(value) = axum::http::HeaderValue::from_str(&peer.ip().to_string()) {
        headers.insert("x-forwarded-for", value);
    }
    headers.insert("x-forwarded-proto", axum::http::HeaderValue::from_static("http"));
    if let Some(host) = host {
        headers.insert("x-forwarded-host", host.clone());
    }
}

/// The client's address, as the balancer's listener accepted it.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, GuardedListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, GuardedListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

async fn proxy(State(shared): State<Arc<Shared>>, ConnectInfo(Peer(peer)): ConnectInfo<Peer>, request: Request) -> Response {
    let Ok(_permit) = shared.in_flight.try_acquire() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many requests in flight").into_response();
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str()).to_string();
    let idempotent = matches!(parts.method.as_str(), "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE");
    let targets = shared.in_rotation();
    if targets.is_empty() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no healthy instance").into_response();
    }
    let mut last_error = String::new();
    for target in targets {
        let mut headers = HeaderMap::new();
        copy_headers(&parts.headers, &mut headers);
        forwarded_headers(&mut headers, peer, parts.headers.get(axum::http::header::HOST));
        let sent = shared
            .client
            .request(parts.method.clone(), format!("http://{target}{path}"))
            .headers(headers)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(answer) => {
                *shared.served.lock().unwrap_or_else(|p| p.into_inner()).entry(target).or_default() += 1;
                let mut response = Response::builder().status(answer.status());
                if let Some(headers) = response.headers_mut() {
                    copy_headers(answer.headers(), headers);
                }
                return response
                    .body(Body::from_stream(answer.bytes_stream()))
                    .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response());
            }
            // Not sent at all (connect failed): safe to try the next instance for any method.
            // Sent but broken: only idempotent requests may be repeated.
            Err(error) if error.is_connect() || idempotent => last_error = error.to_string(),
            Err(error) => return (StatusCode::BAD_GATEWAY, format!("instance {target} failed: {error}")).into_response(),
        }
    }
    (StatusCode::BAD_GATEWAY, format!("no instance answered: {last_error}")).into_response()
}
