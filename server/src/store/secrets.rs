//! Encrypted secrets in the store: only ciphertext and nonce are written (see `secrets`).

use app::model::auth::SecretInfo;

use super::{Error, Result, Store, now_millis, on_pool};

#[derive(Debug, sqlx::FromRow)]
struct SecretInfoRow {
    name: String,
    description: String,
    roles: String,
    applications: String,
    create_ts: i64,
    update_ts: i64,
}

impl SecretInfoRow {
    fn into_model(self) -> SecretInfo {
        SecretInfo {
            name: self.name,
            description: self.description,
            roles: names(&self.roles),
            applications: names(&self.applications),
            create_ts: self.create_ts,
            update_ts: self.update_ts,
        }
    }
}

/// A JSON list of names as stored; a column this code did not write reads as empty (the
/// narrowest scope: admins only).
fn names(column: &str) -> Vec<String> {
    serde_json::from_str(column).unwrap_or_default()
}

/// Who may reference a secret (see `secrets::SecretScope`).
pub struct StoredScope {
    pub roles: Vec<String>,
    pub applications: Vec<String>,
}

/// A secret as stored: sealed.
pub struct SealedSecret {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl Store {
    pub async fn list_secrets(&self) -> Result<Vec<SecretInfo>> {
        let rows: Vec<SecretInfoRow> = on_pool!(self, pool => {
            sqlx::query_as("SELECT name, description, roles, applications, create_ts, update_ts FROM secrets ORDER BY name").fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(SecretInfoRow::into_model).collect())
    }

    /// Creates or replaces a secret, keeping its creation time.
    pub async fn upsert_secret(&self, name: &str, description: &str, scope: &StoredScope, sealed: &SealedSecret) -> Result<SecretInfo> {
        let now = now_millis();
        let roles = serde_json::to_string(&scope.roles).expect("a list of strings serializes");
        let applications = serde_json::to_string(&scope.applications).expect("a list of strings serializes");
        let row: SecretInfoRow = on_pool!(self, pool => {
            sqlx::query_as(
                "INSERT INTO secrets (name, description, roles, applications, nonce, ciphertext, create_ts, update_ts) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (name) DO UPDATE SET description = excluded.description, roles = excluded.roles, \
                 applications = excluded.applications, nonce = excluded.nonce, \
                 ciphertext = excluded.ciphertext, update_ts = excluded.update_ts \
                 RETURNING name, description, roles, applications, create_ts, update_ts",
            )
            .bind(name).bind(description).bind(&roles).bind(&applications).bind(&sealed.nonce).bind(&sealed.ciphertext).bind(now)
            .fetch_one(pool).await
        })?;
        Ok(row.into_model())
    }

    pub async fn sealed_secret(&self, name: &str) -> Result<SealedSecret> {
        let row: Option<(Vec<u8>, Vec<u8>)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT nonce, ciphertext FROM secrets WHERE name = $1").bind(name).fetch_optional(pool).await
        })?;
        let (nonce, ciphertext) = row.ok_or_else(|| Error::NotFound(format!("secret {name}")))?;
        Ok(SealedSecret { nonce, ciphertext })
    }

    /// Who may reference the secret `name`.
    pub async fn secret_scope(&self, name: &str) -> Result<StoredScope> {
        let row: Option<(String, String)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT roles, applications FROM secrets WHERE name = $1").bind(name).fetch_optional(pool).await
        })?;
        let (roles, applications) = row.ok_or_else(|| Error::NotFound(format!("secret {name}")))?;
        Ok(StoredScope { roles: names(&roles), applications: names(&applications) })
    }

    pub async fn delete_secret(&self, name: &str) -> Result<()> {
        let deleted = on_pool!(self, pool => {
            sqlx::query("DELETE FROM secrets WHERE name = $1").bind(name).execute(pool).await.map(|done| done.rows_affected())
        })?;
        if deleted == 0 {
            return Err(Error::NotFound(format!("secret {name}")));
        }
        Ok(())
    }
}
