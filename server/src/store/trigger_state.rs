//! What triggers remember (a JSON document per key, e.g. the last time a cron schedule was
//! checked) and the leases that make one instance the poller of a source.

use super::{Result, Store, on_pool};

impl Store {
    pub async fn trigger_state(&self, key: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT state FROM trigger_state WHERE key = $1").bind(key).fetch_optional(pool).await
        })?;
        Ok(row.map(|(state,)| state))
    }

    pub async fn put_trigger_state(&self, key: &str, state: &str) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO trigger_state (key, state) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET state = excluded.state")
                .bind(key).bind(state).execute(pool).await.map(drop)
        })?;
        Ok(())
    }

    /// Takes (or keeps) the lease `name` for `owner` until `now + ttl_ms`: true when `owner`
    /// holds it afterwards. One conditional upsert, so two instances never both hold it.
    pub async fn take_poll_lease(&self, name: &str, owner: &str, now: i64, ttl_ms: i64) -> Result<bool> {
        let taken = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO poll_leases (name, owner, lease_until) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
                 WHERE poll_leases.owner = excluded.owner OR poll_leases.lease_until < $4",
            )
            .bind(name).bind(owner).bind(now + ttl_ms).bind(now)
            .execute(pool).await.map(|done| done.rows_affected())
        })?;
        Ok(taken == 1)
    }

    /// Who holds the lease `name` and until when (the holder may have died since: a lease
    /// past its time is anyone's).
    pub async fn poll_lease(&self, name: &str) -> Result<Option<(String, i64)>> {
        let row: Option<(String, i64)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT owner, lease_until FROM poll_leases WHERE name = $1").bind(name).fetch_optional(pool).await
        })?;
        Ok(row)
    }

    /// Gives up every lease `owner` holds (at a clean shutdown): the other instances take them
    /// at their next look instead of when they would have run out. How many were held.
    pub async fn release_poll_leases(&self, owner: &str) -> Result<u64> {
        let released = on_pool!(self, pool => {
            sqlx::query("DELETE FROM poll_leases WHERE owner = $1").bind(owner).execute(pool).await.map(|done| done.rows_affected())
        })?;
        Ok(released)
    }
}
