//! Durable state: one `Store` over SQLite (the embedded default) or PostgreSQL (scale-out).
//!
//! Departure from STYLE.md ("one trait, sqlite.rs + postgres.rs"): the SQL here is portable
//! (`$1` placeholders work on both; times are integer milliseconds; JSON is text), so each query
//! is written once and [`on_pool!`] compiles it for both native pools. Where the databases really
//! differ (row locking, LISTEN/NOTIFY) a method matches on [`Pool`] and says why. This keeps one
//! copy of every query instead of two that drift apart, while each backend keeps its native
//! driver and options (no `sqlx::Any` type erasure). Each backend has its own migrations folder.

pub mod accounts;
pub mod applications;
pub mod audit;
pub mod cache_snapshots;
pub mod canary_configs;
pub mod cloud_accounts;
pub mod credentials;
pub mod executions;
pub mod local_resources;
pub mod notices;
pub mod pipelines;
pub mod secrets;
pub mod trigger_state;
pub mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::config::DatabaseUrl;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("{0} not found")]
    NotFound(String),
    /// An update based on an old revision (optimistic concurrency).
    #[error("{0}")]
    Stale(String),
    /// Refused while something still depends on it: (the field at fault, why).
    #[error("{1}")]
    InUse(String, String),
    /// A stored document that no longer parses.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("cannot create the database folder {path}: {source}")]
    Folder { path: String, source: std::io::Error },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A connection pool for one of the two supported databases.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same expression against whichever pool is configured; inside, `$pool` is the
/// concrete pool, so `sqlx::query(...).fetch_all($pool)` is type-checked for each database.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Connects (creating the SQLite file and its folder when missing) and applies migrations.
    pub async fn open(url: &DatabaseUrl) -> Result<Self> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub async fn connect(url: &DatabaseUrl) -> Result<Self> {
        let url = url.expose();
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(connect_sqlite(url).await?)
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            Pool::Postgres(pool)
        };
        Ok(Self { pool })
    }

    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        // WAL lets readers run beside the single writer; NORMAL sync is durable across process
        // crashes (the WAL is fsynced at checkpoints), which is what a restart needs.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    if let Some(folder) = Path::new(options.get_filename()).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .map_err(|source| Error::Folder { path: folder.display().to_string(), source })?;
    }
    Ok(SqlitePoolOptions::new().max_connections(8).connect_with(options).await?)
}

/// True when the error is a unique-constraint violation, on either database.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Milliseconds since the Unix epoch, as stored.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}
