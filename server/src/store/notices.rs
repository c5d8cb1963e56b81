//! What other gennaker instances on the same PostgreSQL announce (LISTEN/NOTIFY): events
//! committed (`gennaker_events`, with the latest sequence number), messages queued
//! (`gennaker_queue`) and cluster snapshots published (`gennaker_cache`, with the snapshot's
//! key; see `cache_snapshots`). The store stays the source of truth: a notice only says "look
//! now", so the live event hub, idle workers and caching agents following a location react at
//! once instead of at their next sweep. Event and queue notices are sent inside the committing
//! transactions (`Store::announce`), so PostgreSQL delivers them at commit and never for a
//! rollback; a snapshot's right after its write.
//!
//! SQLite has one process and no notices: `listen` gives nothing there.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::{Pool, Store};

/// How long to wait before listening again after the connection was lost (the sweeps cover
/// the gap).
const RECONNECT: Duration = Duration::from_secs(2);

/// The channels a notice arrives on.
pub struct Notices {
    /// Sequence numbers of committed events, for the live event hub.
    pub events: mpsc::Receiver<i64>,
}

impl Store {
    /// Listens for other instances' notices (PostgreSQL only): events go to the returned
    /// receiver, queue notices wake `workers`. Stops when the receiver is dropped.
    pub fn listen(&self, workers: Arc<Notify>) -> Option<Notices> {
        let Pool::Postgres(pool) = &self.pool else { return None };
        let pool = pool.clone();
        let (sender, events) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(mut listener) => {
                        if let Err(error) = listener.listen_all(["gennaker_events", "gennaker_queue"]).await {
                            tracing::warn!(%error, "cannot listen for other instances' notices");
                        } else {
                            loop {
                                match listener.recv().await {
                                    Ok(notice) if notice.channel() == "gennaker_queue" => workers.notify_waiters(),
                                    Ok(notice) => {
                                        let seq = notice.payload().parse().unwrap_or(i64::MAX);
                                        // Full: the hub is busy and will read the store anyway.
                                        if let Err(mpsc::error::TrySendError::Closed(_)) = sender.try_send(seq) {
                                            return;
                                        }
                                    }
                                    Err(error) => {
                                        tracing::warn!(%error, "lost the notice connection; listening again");
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot connect to listen for notices"),
                }
                if sender.is_closed() {
                    return;
                }
                tokio::time::sleep(RECONNECT).await;
            }
        });
        Some(Notices { events })
    }
}

impl Store {
    /// Listens for published cluster snapshots (PostgreSQL only): the key of each changed
    /// snapshot goes to the returned receiver. Its own connection, so a slow event hub never
    /// holds back the caches. Stops when the receiver is dropped.
    pub fn listen_cache(&self) -> Option<mpsc::Receiver<String>> {
        let Pool::Postgres(pool) = &self.pool else { return None };
        let pool = pool.clone();
        let (sender, keys) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(mut listener) => match listener.listen(super::cache_snapshots::CHANNEL).await {
                        Ok(()) => loop {
                            // The instance stopped: no notice may come for a long time, so
                            // the connection must not wait for one to learn it.
                            let notice = tokio::select! {
                                () = sender.closed() => return,
                                notice = listener.recv() => notice,
                            };
                            match notice {
                                Ok(notice) => {
                                    // Full: the agents are busy and look at the store anyway.
                                    if let Err(mpsc::error::TrySendError::Closed(_)) = sender.try_send(notice.payload().to_string()) {
                                        return;
                                    }
                                }
                                Err(error) => {
                                    tracing::warn!(%error, "lost the cache notice connection; listening again");
                                    break;
                                }
                            }
                        },
                        Err(error) => tracing::warn!(%error, "cannot listen for other instances' cache notices"),
                    },
                    Err(error) => tracing::warn!(%error, "cannot connect to listen for cache notices"),
                }
                if sender.is_closed() {
                    return;
                }
                tokio::time::sleep(RECONNECT).await;
            }
        });
        Some(keys)
    }
}
