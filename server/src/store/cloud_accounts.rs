//! Cloud accounts in the store (`cloud_accounts`): those made through the admin API and those
//! of the clouds file (copied in at each start, `source: file`), so every instance sharing the
//! store sees the same accounts. Each row holds the account's JSON, which names secrets but
//! never holds credentials.

use app::model::clouds::CloudAccount;

use super::{Error, Result, Store, now_millis, on_pool};

impl Store {
    /// Every stored account, by name.
    pub async fn list_cloud_accounts(&self) -> Result<Vec<CloudAccount>> {
        let rows: Vec<(String, String)> =
            on_pool!(self, pool => sqlx::query_as("SELECT name, settings FROM cloud_accounts ORDER BY name").fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(name, json)| {
                serde_json::from_str::<CloudAccount>(&json).map_err(|e| Error::Corrupt(format!("cloud account {name}: {e}")))
            })
            .collect()
    }

    /// Creates or replaces an account, keeping its creation time.
    pub async fn upsert_cloud_account(&self, account: &CloudAccount) -> Result<()> {
        let json = serde_json::to_string(account).expect("an account serializes");
        let now = now_millis();
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO cloud_accounts (name, cloud_provider, settings, create_ts, update_ts) VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (name) DO UPDATE SET cloud_provider = excluded.cloud_provider, settings = excluded.settings, update_ts = excluded.update_ts",
            )
            .bind(&account.name).bind(account.cloud_provider.as_str()).bind(&json).bind(now).execute(pool).await.map(drop)
        })?;
        Ok(())
    }

    /// Deletes an account made through the API; false when there was none.
    pub async fn delete_cloud_account(&self, name: &str) -> Result<bool> {
        let deleted = on_pool!(self, pool => {
            sqlx::query("DELETE FROM cloud_accounts WHERE name = $1").bind(name).execute(pool).await.map(|done| done.rows_affected())
        })?;
        Ok(deleted > 0)
    }
}
