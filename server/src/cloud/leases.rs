//! Caching agents when several gennaker instances share one PostgreSQL: each location is
//! observed (or watched) by one instance only, the holder of its lease (`poll_leases`, as the
//! cron and Docker pollers use), which publishes what it saw (`store::cache_snapshots`); the
//! others load the published snapshots into their own cache, on the agent's interval and at
//! once when PostgreSQL's `gennaker_cache` notice names the location. The holder renews its
//! lease on every loop; the lease lasts a few intervals, so when its holder dies another
//! instance takes it over within that time and observes from then on.
//!
//! Leases: `cache:{provider}:{account}:{region}` per server-group location,
//! `cache:kubernetes:{account}` per Kubernetes account (its namespaces are published together),
//! and `local-cloud` for the local cloud, whose holder also runs its processes
//! (`local::cloud`). On SQLite there is one process and no [`Sharing`]: every agent observes,
//! as if it always held its lease.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::model::cluster::Location;
use tokio::sync::{broadcast, watch};

use super::provider::Snapshot;
use crate::store::{Backend, Store};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// Written by another version of gennaker, say; the next publication replaces it.
    #[error("a published cluster snapshot is unreadable: {0}")]
    Unreadable(#[from] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What one key publishes: a location's snapshot, or a Kubernetes account's, one per namespace.
pub type Published = Vec<(Location, Snapshot)>;

/// The shortest lease: an agent interval shortened for tests must not make a busy database's
/// slow renewal hand the lease back and forth.
const MIN_LEASE: Duration = Duration::from_secs(2);
/// The lease lasts this many agent intervals.
const LEASE_INTERVALS: u32 = 5;

/// The key a server-group location is published under.
pub fn key(location: &Location) -> String {
    format!("{}:{}:{}", location.cloud_provider, location.account, location.region)
}

/// The key a Kubernetes account's namespaces are published under, and its agent's lease.
pub fn kubernetes_key(account: &str) -> String {
    format!("kubernetes:{account}")
}

/// This instance's part in sharing the caching agents with the others on the database.
#[derive(Clone)]
pub struct Sharing {
    store: Store,
    owner: Arc<str>,
    lease_ms: i64,
    notices: broadcast::Sender<String>,
    /// Dropped with the last clone: the notice listener then stops.
    _alive: Arc<watch::Sender<()>>,
}

impl Sharing {
    /// `None` on SQLite (one process: nothing to share). `interval`: the caching agents';
    /// `address`: where this instance listens, which names it as a lease holder.
    pub fn new(store: &Store, interval: Duration, address: SocketAddr) -> Option<Self> {
        if store.backend() != Backend::Postgres {
            return None;
        }
        let lease = (interval * LEASE_INTERVALS).max(MIN_LEASE);
        let (notices, _) = broadcast::channel(256);
        let (alive, mut gone) = watch::channel(());
        if let Some(mut keys) = store.listen_cache() {
            let forward = notices.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = gone.changed() => return,
                        key = keys.recv() => match key {
                            // No agent follows right now: nothing to wake.
                            Some(key) => drop(forward.send(key)),
                            None => return,
                        },
                    }
                }
            });
        }
        Some(Self { store: store.clone(), owner: instance_name(address).into(), lease_ms: lease.as_millis() as i64, notices, _alive: Arc::new(alive) })
    }

    /// This instance's name in `poll_leases` and in the snapshots it publishes.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Takes or renews the lease `name`: whether this instance holds it now. A database error
    /// counts as not holding it (another instance may take it meanwhile).
    pub async fn take(&self, name: &str) -> bool {
        match self.store.take_poll_lease(name, &self.owner, crate::store::now_millis(), self.lease_ms).await {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(%error, lease = name, "cannot take or renew a caching lease");
                false
            }
        }
    }

    /// Gives up every lease this instance holds (a clean shutdown, once its agents stopped and
    /// the local cloud stopped its processes): another instance takes them over at once.
    pub async fn release(&self) {
        match self.store.release_poll_leases(&self.owner).await {
            Ok(released) => tracing::info!(released, owner = %self.owner, "caching leases given up"),
            Err(error) => tracing::warn!(%error, "cannot give up the caching leases; they run out by themselves"),
        }
    }

    /// Publishes what this instance observed under `key` (written, and announced, only when it
    /// changed). A failure is logged: the next observation publishes again.
    pub async fn publish(&self, key: &str, snapshots: Vec<(&Location, &Snapshot)>) {
        let body = serde_json::to_string(&snapshots).expect("snapshots serialize");
        if let Err(error) = self.store.put_cache_snapshot(key, &body, crate::store::now_millis(), &self.owner).await {
            tracing::warn!(%error, key, "cannot publish a cluster snapshot");
        }
    }

    /// What was published under `key` after version `known` (0: anything), with its version.
    pub async fn load_after(&self, key: &str, known: i64) -> Result<Option<(i64, Published)>> {
        let Some(stored) = self.store.cache_snapshot_after(key, known).await? else { return Ok(None) };
        Ok(Some((stored.version, serde_json::from_str(&stored.body)?)))
    }

    /// Keys of snapshots other instances published, as PostgreSQL announces them.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.notices.subscribe()
    }
}

/// `host:port (pid N)`: which machine and process holds a lease, for people reading errors
/// and `poll_leases`.
fn instance_name(address: SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|host| host.trim().to_string())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{} (pid {})", address.port(), std::process::id())
}

/// Waits for the next loop of an agent: `interval`, or a notice naming `key` when `notices`
/// is given (the agent follows it). True when the agent must stop.
pub async fn pause(stop: &mut watch::Receiver<()>, interval: Duration, notices: Option<&mut broadcast::Receiver<String>>, key: &str) -> bool {
    let announced = async {
        let Some(notices) = notices else { return std::future::pending().await };
        loop {
            match notices.recv().await {
                Ok(announced) if announced == key => return,
                Ok(_) => {}
                // Some were missed, perhaps this one: look.
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    };
    tokio::select! {
        _ = stop.changed() => true,
        () = tokio::time::sleep(interval) => false,
        () = announced => false,
    }
}
