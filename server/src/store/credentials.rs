//! Browser sessions and API tokens in the store, both looked up by the SHA-256 of their secret
//! (a leaked database does not leak usable credentials).

use app::model::auth::{ApiToken, User};

use super::users::UserRow;
use super::{Error, Result, Store, now_millis, on_pool};

/// How stale `last_used_ts` may get: writing it on every call would make each API request a
/// database write.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

const JOINED_USER: &str = "u.name, u.roles, u.admin, u.service_account, u.create_ts, u.update_ts";

#[derive(Debug, sqlx::FromRow)]
struct ApiTokenRow {
    id: String,
    name: String,
    user_name: String,
    create_ts: i64,
    expires_ts: Option<i64>,
    last_used_ts: Option<i64>,
}

impl ApiTokenRow {
    fn into_model(self) -> ApiToken {
        ApiToken {
            id: self.id,
            name: self.name,
            user: self.user_name,
            create_ts: self.create_ts,
            expires_ts: self.expires_ts,
            last_used_ts: self.last_used_ts,
        }
    }
}

const TOKEN_COLUMNS: &str = "id, name, user_name, create_ts, expires_ts, last_used_ts";

impl Store {
    pub async fn insert_session(&self, token_hash: &str, user: &str, expires_ts: i64, address: &str) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO sessions (token_hash, user_name, create_ts, expires_ts, address) VALUES ($1, $2, $3, $4, $5)")
                .bind(token_hash).bind(user).bind(now_millis()).bind(expires_ts).bind(address)
                .execute(pool).await.map(drop)
        })?;
        Ok(())
    }

    /// The user of a session that has not expired: one indexed read.
    pub async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {JOINED_USER} FROM sessions s JOIN users u ON u.name = s.user_name \
             WHERE s.token_hash = $1 AND s.expires_ts > $2"
        );
        let row: Option<UserRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(token_hash).bind(now).fetch_optional(pool).await
        })?;
        Ok(row.map(UserRow::into_model))
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Ends every session of a user (after a password change).
    pub async fn delete_sessions_of(&self, user: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE user_name = $1").bind(user).execute(pool).await.map(drop))?;
        Ok(())
    }

    pub async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        let deleted = on_pool!(self, pool => {
            sqlx::query("DELETE FROM sessions WHERE expires_ts <= $1").bind(now).execute(pool).await.map(|done| done.rows_affected())
        })?;
        Ok(deleted)
    }

    pub async fn insert_api_token(&self, id: &str, user: &str, name: &str, token_hash: &str, expires_ts: Option<i64>) -> Result<ApiToken> {
        let sql = format!(
            "INSERT INTO api_tokens (id, user_name, name, token_hash, create_ts, expires_ts) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
        );
        let row: ApiTokenRow = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(id).bind(user).bind(name).bind(token_hash).bind(now_millis()).bind(expires_ts)
                .fetch_one(pool).await
        })?;
        Ok(row.into_model())
    }

    /// The user behind a token that has not expired. Marks the token used, at most once per
    /// `LAST_USED_RESOLUTION_MS`, so most calls are a single indexed read.
    /// The user behind a valid token, and when the token expires.
    pub async fn api_token_user(&self, token_hash: &str, now: i64) -> Result<Option<(User, Option<i64>)>> {
        #[derive(sqlx::FromRow)]
        struct TokenUser {
            #[sqlx(flatten)]
            user: UserRow,
            id: String,
            last_used_ts: Option<i64>,
            expires_ts: Option<i64>,
        }
        let sql = format!(
            "SELECT {JOINED_USER}, t.id, t.last_used_ts, t.expires_ts FROM api_tokens t JOIN users u ON u.name = t.user_name \
             WHERE t.token_hash = $1 AND (t.expires_ts IS NULL OR t.expires_ts > $2)"
        );
        let row: Option<TokenUser> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(token_hash).bind(now).fetch_optional(pool).await
        })?;
        let Some(row) = row else { return Ok(None) };
        if row.last_used_ts.is_none_or(|used| now - used > LAST_USED_RESOLUTION_MS) {
            on_pool!(self, pool => {
                sqlx::query("UPDATE api_tokens SET last_used_ts = $2 WHERE id = $1").bind(&row.id).bind(now)
                    .execute(pool).await.map(drop)
            })?;
        }
        Ok(Some((row.user.into_model(), row.expires_ts)))
    }

    pub async fn list_api_tokens(&self, user: &str) -> Result<Vec<ApiToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_name = $1 ORDER BY create_ts, id");
        let rows: Vec<ApiTokenRow> = on_pool!(self, pool => sqlx::query_as(&sql).bind(user).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(ApiTokenRow::into_model).collect())
    }

    /// Ends every API token of `user` (a password change ends them with the sessions).
    pub async fn delete_api_tokens_of(&self, user: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM api_tokens WHERE user_name = $1").bind(user).execute(pool).await.map(drop))?;
        Ok(())
    }

    pub async fn delete_api_token(&self, user: &str, id: &str) -> Result<()> {
        let deleted = on_pool!(self, pool => {
            sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_name = $2").bind(id).bind(user)
                .execute(pool).await.map(|done| done.rows_affected())
        })?;
        if deleted == 0 {
            return Err(Error::NotFound(format!("token {id}")));
        }
        Ok(())
    }
}
