//! The local cloud's load balancer: a reverse proxy on its own port that spreads HTTP requests
//! over the healthy instances of enabled server groups. It checks their health (path, interval,
//! timeout, healthy and unhealthy thresholds), stops sending new requests to disabled ones
//! (requests in flight finish: draining), retries a request on another instance when one
//! cannot be reached (so an instance dying is not a failed request), and enforces security group
//! ingress rules on its listener: a connection from outside the allowed ranges is closed at once.
//!
//! Traffic can be split by weight between server groups (a canary's share): with weights set,
//! each request goes to a server group chosen in proportion to its weight among those with an
//! instance in service (exact shares, interleaved, no randomness: smooth weighted round robin),
//! then to that group's instances in turn. It counts each server group's answers by status code and their
//! latency, for `/metrics` (canary analysis and people read them there).

use std::collections::{BTreeMap, HashMap};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub address: SocketAddr,
    pub enabled: bool,
    /// The server group it belongs to (traffic weights and counts are per server group).
    pub server_group: Arc<str>,
}

/// Upper bounds (seconds) of the latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// What one server group answered through the balancer since it started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupTraffic {
    /// Answers by HTTP status; 502 also counts requests no instance of the group answered.
    pub by_status: BTreeMap<u16, u64>,
    /// Answers per latency bucket (not cumulative), the last slot past the largest bound.
    pub latency_buckets: [u64; LATENCY_BUCKETS.len() + 1],
    pub latency_sum: f64,
    pub count: u64,
}

impl GroupTraffic {
    fn record(&mut self, status: u16, seconds: f64) {
        *self.by_status.entry(status).or_default() += 1;
        let slot = LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(LATENCY_BUCKETS.len());
        self.latency_buckets[slot] += 1;
        self.latency_sum += seconds;
        self.count += 1;
    }
}

#[derive(Debug, Clone)]
struct TargetState {
    target: Target,
    healthy: bool,
    passes: u32,
    fails: u32,
}

/// The weighted choice's state: each group's credit, and whose turn it is within each group.
#[derive(Default)]
struct Turns {
    credit: HashMap<Arc<str>, i64>,
    next_in_group: HashMap<Arc<str>, usize>,
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
    served: std::sync::Mutex<HashMap<SocketAddr, u64>>,
    /// Traffic weights by server group; `None`: every in-service instance in turn.
    weights: RwLock<Option<BTreeMap<Arc<str>, u32>>>,
    /// Where the weighted choice stands.
    turns: std::sync::Mutex<Turns>,
    traffic: std::sync::Mutex<HashMap<Arc<str>, GroupTraffic>>,
}

impl Shared {
    fn admits(&self, peer: SocketAddr) -> bool {
        match &*self.ingress.read().unwrap_or_else(|p| p.into_inner()) {
            None => true,
            Some(ranges) => ranges.iter().any(|range| range.contains(peer.ip())),
        }
    }

    /// In-service targets to try, in order: with weights, the chosen server group's first
    /// (starting at its next one in turn), then the others' in case none of those answers;
    /// without, all of them starting at the next one in turn.
    fn in_rotation(&self) -> Vec<(SocketAddr, Arc<str>)> {
        let targets = self.targets.read().unwrap_or_else(|p| p.into_inner());
        let live: Vec<(SocketAddr, Arc<str>)> =
            targets.iter().filter(|t| t.target.enabled && t.healthy).map(|t| (t.target.address, t.target.server_group.clone())).collect();
        if live.is_empty() {
            return live;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % live.len();
        let rotated: Vec<(SocketAddr, Arc<str>)> = live.iter().cycle().skip(start).take(live.len()).cloned().collect();
        let weights = self.weights.read().unwrap_or_else(|p| p.into_inner());
        let Some(weights) = weights.as_ref() else { return rotated };
        // Only groups with an instance in service share the traffic.
        let serving: Vec<(&Arc<str>, u64)> = weights
            .iter()
            .filter(|(group, weight)| **weight > 0 && live.iter().any(|(_, owner)| owner == *group))
            .map(|(group, weight)| (group, u64::from(*weight)))
            .collect();
        let total: u64 = serving.iter().map(|(_, weight)| weight).sum();
        if total == 0 {
            // Nothing weighted is in service: better any instance than none.
            return rotated;
        }
        // Smooth weighted round robin (nginx's): every group gains its weight, the richest is
        // chosen and pays the total, so the shares are exact over each cycle and interleaved.
        let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
        let mut chosen: Option<(Arc<str>, i64)> = None;
        for (group, weight) in &serving {
            let credit = turns.credit.entry((*group).clone()).or_insert(0);
            *credit += i64::try_from(*weight).unwrap_or(i64::MAX);
            if chosen.as_ref().is_none_or(|(_, best)| *credit > *best) {
                chosen = Some(((*group).clone(), *credit));
            }
        }
        let Some((chosen, _)) = chosen else { return rotated };
        if let Some(credit) = turns.credit.get_mut(&chosen) {
            *credit -= i64::try_from(total).unwrap_or(i64::MAX);
        }
        turns.credit.retain(|group, _| weights.contains_key(group));
        // Within the chosen group, its instances in turn.
        let members: Vec<(SocketAddr, Arc<str>)> = live.iter().filter(|(_, owner)| *owner == chosen).cloned().collect();
        let next = turns.next_in_group.entry(chosen.clone()).or_insert(0);
        let start = *next % members.len().max(1);
        *next = next.wrapping_add(1);
        let mut first: Vec<(SocketAddr, Arc<str>)> = members.iter().cycle().skip(start).take(members.len()).cloned().collect();
        first.extend(rotated.into_iter().filter(|(_, owner)| *owner != chosen && weights.get(owner).is_some_and(|weight| *weight > 0)));
        first
    }

    fn record(&self, server_group: &Arc<str>, status: u16, seconds: f64) {
        self.traffic.lock().unwrap_or_else(|p| p.into_inner()).entry(server_group.clone()).or_default().record(status, seconds);
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
            weights: RwLock::new(None),
            turns: Default::default(),
            traffic: Default::default(),
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
        // So are the counts of server groups no longer behind it (their series end).
        self.shared.traffic.lock().unwrap_or_else(|p| p.into_inner()).retain(|group, _| next.iter().any(|t| &t.target.server_group == group));
        *current = next;
    }

    /// Requests each target has answered since it joined, by address.
    pub fn served(&self) -> Vec<(SocketAddr, u64)> {
        self.shared.served.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(address, count)| (*address, *count)).collect()
    }

    /// Splits traffic between server groups by weight (`None`: every instance in turn). A
    /// server group left out of the weights gets no new requests.
    pub fn set_weights(&self, weights: Option<BTreeMap<String, u32>>) {
        let weights = weights.map(|weights| weights.into_iter().map(|(group, weight)| (Arc::<str>::from(group), weight)).collect());
        *self.shared.weights.write().unwrap_or_else(|p| p.into_inner()) = weights;
    }

    /// The traffic weights in force, if any.
    pub fn weights(&self) -> Option<BTreeMap<String, u32>> {
        self.shared.weights.read().unwrap_or_else(|p| p.into_inner()).as_ref().map(|weights| weights.iter().map(|(group, weight)| (group.to_string(), *weight)).collect())
    }

    /// What each server group answered since the balancer started.
    pub fn traffic(&self) -> Vec<(String, GroupTraffic)> {
        let traffic = self.shared.traffic.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<(String, GroupTraffic)> = traffic.iter().map(|(group, counts)| (group.to_string(), counts.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
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
    let mut last_group: Option<Arc<str>> = None;
    for (target, server_group) in targets {
        let started = std::time::Instant::now();
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
                shared.record(&server_group, answer.status().as_u16(), started.elapsed().as_secs_f64());
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
            Err(error) if error.is_connect() || idempotent => {
                last_error = error.to_string();
                last_group = Some(server_group);
            }
            Err(error) => {
                shared.record(&server_group, 502, started.elapsed().as_secs_f64());
                return (StatusCode::BAD_GATEWAY, format!("instance {target} failed: {error}")).into_response();
            }
        }
    }
    if let Some(group) = &last_group {
        shared.record(group, 502, 0.0);
    }
    (StatusCode::BAD_GATEWAY, format!("no instance answered: {last_error}")).into_response()
}
