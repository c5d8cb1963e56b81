//! Retention: the periodic clean-up of what the database need not keep for ever. Once an hour,
//! on the one instance holding the `retention` lease (several instances share one database;
//! another takes over within the lease time if the holder dies):
//! - the event log of runs that ended and started more than `--event-retention-days` ago is
//!   cut to each run's last event (its final state, all its page and a replay need);
//! - expired sign-in sessions are removed (they are refused on read anyway; this keeps the
//!   table small).

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::Store;

/// How often the clean-up runs.
const EVERY: Duration = Duration::from_secs(3600);
/// How long the lease outlives a pass: another instance takes over after this.
const LEASE_MS: i64 = 2 * 3600 * 1000;
/// Events deleted per statement, so no one transaction grows large.
const BATCH: i64 = 5_000;

/// One clean-up pass, if this instance (`owner`) holds the lease: events removed.
pub async fn pass(store: &Store, owner: &str, now: i64, retention_days: u32) -> Result<u64, crate::store::Error> {
    if !store.take_poll_lease("retention", owner, now, LEASE_MS).await? {
        return Ok(0);
    }
    match store.delete_expired_sessions(now).await {
        Ok(0) => {}
        Ok(removed) => tracing::debug!(removed, "expired sessions removed"),
        Err(error) => tracing::warn!(%error, "could not remove expired sessions"),
    }
    if retention_days == 0 {
        return Ok(0);
    }
    let cutoff = now - i64::from(retention_days) * 24 * 3600 * 1000;
    let mut removed = 0;
    loop {
        let batch = store.expire_events(cutoff, BATCH).await?;
        removed += batch;
        if batch < BATCH as u64 {
            break;
        }
    }
    if removed > 0 {
        tracing::info!(removed, retention_days, "old runs' event logs cut to their final state");
    }
    Ok(removed)
}

/// Runs a pass now and then every hour until `stopped` changes.
pub fn start(store: Store, retention_days: u32, mut stopped: watch::Receiver<()>) -> JoinHandle<()> {
    let owner = crate::auth::token::new_id();
    tokio::spawn(async move {
        loop {
            if let Err(error) = pass(&store, &owner, crate::store::now_millis(), retention_days).await {
                tracing::warn!(%error, "retention pass failed; trying again in an hour");
            }
            tokio::select! {
                _ = stopped.changed() => return,
                () = tokio::time::sleep(EVERY) => {}
            }
        }
    })
}
