//! Cloud account permissions in the store.

use std::collections::BTreeMap;

use app::model::auth::AccountPermissions;

use super::{Error, Result, Store, now_millis, on_pool};

impl Store {
    /// Every account with permissions set, by name.
    pub async fn account_permissions(&self) -> Result<BTreeMap<String, AccountPermissions>> {
        let rows: Vec<(String, String)> =
            on_pool!(self, pool => sqlx::query_as("SELECT account, permissions FROM account_permissions").fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(account, json)| {
                let permissions = serde_json::from_str(&json).map_err(|e| Error::Corrupt(format!("account {account}: {e}")))?;
                Ok((account, permissions))
            })
            .collect()
    }

    pub async fn set_account_permissions(&self, account: &str, permissions: &AccountPermissions) -> Result<()> {
        let json = serde_json::to_string(permissions).expect("permissions serialize");
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO account_permissions (account, permissions, update_ts) VALUES ($1, $2, $3) \
                 ON CONFLICT (account) DO UPDATE SET permissions = excluded.permissions, update_ts = excluded.update_ts",
            )
            .bind(account).bind(&json).bind(now_millis()).execute(pool).await.map(drop)
        })?;
        Ok(())
    }
}
