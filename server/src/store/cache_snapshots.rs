//! The cluster snapshots caching agents publish (`cloud::leases`): when several gennaker
//! instances share one PostgreSQL, only the holder of a location's lease observes it; it writes
//! what it saw here and the others load it into their own cache. One row per published key,
//! whose `version` grows only when the body changes, so followers read a body once per change;
//! on PostgreSQL a change is also announced on the `gennaker_cache` channel (`notices`).

use super::{Pool, Result, Store, on_pool};

/// The notice channel a changed snapshot is announced on (its key as the payload).
pub const CHANNEL: &str = "gennaker_cache";

/// One published snapshot as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    pub body: String,
    /// When the holder observed this body (first, if it saw the same again since).
    pub observed_at: i64,
    /// The instance that published it.
    pub holder: String,
    pub version: i64,
}

type Row = (String, i64, String, i64);

fn stored((body, observed_at, holder, version): Row) -> StoredSnapshot {
    StoredSnapshot { body, observed_at, holder, version }
}

impl Store {
    /// Publishes `body` under `key`: true when it differs from what was stored (the version
    /// grew, and other instances are told), false when it is the same (nothing is written).
    pub async fn put_cache_snapshot(&self, key: &str, body: &str, observed_at: i64, holder: &str) -> Result<bool> {
        let written = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO cache_snapshots (location, body, observed_at, holder, version) VALUES ($1, $2, $3, $4, 1) \
                 ON CONFLICT (location) DO UPDATE SET body = excluded.body, observed_at = excluded.observed_at, \
                 holder = excluded.holder, version = cache_snapshots.version + 1 \
                 WHERE cache_snapshots.body <> excluded.body",
            )
            .bind(key).bind(body).bind(observed_at).bind(holder)
            .execute(pool).await.map(|done| done.rows_affected())
        })?;
        if written == 0 {
            return Ok(false);
        }
        // After the write committed: a follower told now finds the new body. A notice lost
        // here is covered by the followers' interval.
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(key).execute(pool).await?;
        }
        Ok(true)
    }

    pub async fn cache_snapshot(&self, key: &str) -> Result<Option<StoredSnapshot>> {
        self.cache_snapshot_after(key, 0).await
    }

    /// The snapshot under `key` if its version is above `version` (what the caller has).
    pub async fn cache_snapshot_after(&self, key: &str, version: i64) -> Result<Option<StoredSnapshot>> {
        let row: Option<Row> = on_pool!(self, pool => {
            sqlx::query_as("SELECT body, observed_at, holder, version FROM cache_snapshots WHERE location = $1 AND version > $2")
                .bind(key).bind(version).fetch_optional(pool).await
        })?;
        Ok(row.map(stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseUrl;

    async fn publish_and_follow(store: Store) {
        assert_eq!(store.cache_snapshot("aws:prod:us-east-1").await.unwrap(), None);
        assert!(store.put_cache_snapshot("aws:prod:us-east-1", "[1]", 10, "a").await.unwrap(), "a first body is new");
        let first = store.cache_snapshot("aws:prod:us-east-1").await.unwrap().unwrap();
        assert_eq!(first, StoredSnapshot { body: "[1]".into(), observed_at: 10, holder: "a".into(), version: 1 });
        assert!(!store.put_cache_snapshot("aws:prod:us-east-1", "[1]", 20, "a").await.unwrap(), "the same body writes nothing");
        assert_eq!(store.cache_snapshot_after("aws:prod:us-east-1", 1).await.unwrap(), None, "nothing newer than version 1");
        assert!(store.put_cache_snapshot("aws:prod:us-east-1", "[2]", 30, "b").await.unwrap());
        let second = store.cache_snapshot_after("aws:prod:us-east-1", 1).await.unwrap().unwrap();
        assert_eq!(second, StoredSnapshot { body: "[2]".into(), observed_at: 30, holder: "b".into(), version: 2 });
        assert_eq!(store.cache_snapshot("kubernetes:prod").await.unwrap(), None, "keys are apart");
    }

    /// A name no other test run uses (the store is below `auth`, whose ids it must not borrow).
    fn unique() -> String {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        format!("{}_{nanos}", std::process::id())
    }

    #[tokio::test]
    async fn snapshots_publish_on_sqlite() {
        let dir = std::env::temp_dir().join(format!("gennaker-cache-snapshots-{}", unique()));
        let url = format!("sqlite://{}", dir.join("gennaker.db").display());
        publish_and_follow(Store::open(&DatabaseUrl(url)).await.unwrap()).await;
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Against the PostgreSQL of `GENNAKER_TEST_POSTGRES_URL` (skipped without it), in a
    /// database of its own; a listener hears each changed snapshot's key.
    #[tokio::test]
    async fn snapshots_publish_and_notify_on_postgres() {
        use sqlx::Connection;
        let Ok(admin_url) = std::env::var("GENNAKER_TEST_POSTGRES_URL") else {
            eprintln!("GENNAKER_TEST_POSTGRES_URL is not set: skipped");
            return;
        };
        let name = format!("gennaker_cache_{}", unique());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
        let (base, _) = admin_url.rsplit_once('/').unwrap();
        let store = Store::open(&DatabaseUrl(format!("{base}/{name}"))).await.unwrap();
        let mut notices = store.listen_cache().expect("PostgreSQL listens");
        // The listener connects in the background; a notice sent before would be missed.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        publish_and_follow(store.clone()).await;
        for expected in ["aws:prod:us-east-1", "aws:prod:us-east-1"] {
            let key = tokio::time::timeout(std::time::Duration::from_secs(5), notices.recv()).await.expect("a notice").unwrap();
            assert_eq!(key, expected);
        }
        assert!(tokio::time::timeout(std::time::Duration::from_millis(300), notices.recv()).await.is_err(), "an unchanged body is not announced");
        store.close().await;
        drop(notices);
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
    }
}
