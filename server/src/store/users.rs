//! Users in the store. Password hashes stay in here and in `auth::password`; the rest of the
//! server sees `User`.

use app::model::auth::User;

use super::{Error, Result, Store, is_unique_violation, now_millis, on_pool};

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    name: String,
    roles: String,
    admin: bool,
    service_account: bool,
    create_ts: i64,
    update_ts: i64,
}

impl UserRow {
    pub(crate) fn into_model(self) -> User {
        User {
            roles: serde_json::from_str(&self.roles).unwrap_or_default(),
            name: self.name,
            admin: self.admin,
            service_account: self.service_account,
            create_ts: self.create_ts,
            update_ts: self.update_ts,
        }
    }
}

const COLUMNS: &str = "name, roles, admin, service_account, create_ts, update_ts";

/// A user to insert, with the hash already computed.
pub struct UserRecord<'a> {
    pub name: &'a str,
    pub password_hash: Option<&'a str>,
    pub roles: &'a [String],
    pub admin: bool,
    pub service_account: bool,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Default)]
pub struct UserChanges<'a> {
    pub password_hash: Option<&'a str>,
    pub roles: Option<&'a [String]>,
    pub admin: Option<bool>,
}

impl Store {
    pub async fn count_users(&self) -> Result<i64> {
        let count: (i64,) = on_pool!(self, pool => sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(pool).await)?;
        Ok(count.0)
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users ORDER BY name");
        let rows: Vec<UserRow> = on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(UserRow::into_model).collect())
    }

    pub async fn get_user(&self, name: &str) -> Result<User> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE name = $1");
        let row: Option<UserRow> = on_pool!(self, pool => sqlx::query_as(&sql).bind(name).fetch_optional(pool).await)?;
        row.map(UserRow::into_model).ok_or_else(|| Error::NotFound(format!("user {name}")))
    }

    /// The user and their password hash, for sign-in. `None` when no such user.
    pub async fn user_with_hash(&self, name: &str) -> Result<Option<(User, Option<String>)>> {
        let sql = format!("SELECT {COLUMNS}, password_hash FROM users WHERE name = $1");
        #[derive(sqlx::FromRow)]
        struct WithHash {
            #[sqlx(flatten)]
            user: UserRow,
            password_hash: Option<String>,
        }
        let row: Option<WithHash> = on_pool!(self, pool => sqlx::query_as(&sql).bind(name).fetch_optional(pool).await)?;
        Ok(row.map(|row| (row.user.into_model(), row.password_hash)))
    }

    pub async fn insert_user(&self, record: &UserRecord<'_>) -> Result<User> {
        let now = now_millis();
        let roles = serde_json::to_string(record.roles).expect("roles serialize");
        let sql = format!(
            "INSERT INTO users (name, password_hash, roles, admin, service_account, create_ts, update_ts) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLUMNS}"
        );
        let inserted: Result<UserRow, sqlx::Error> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(record.name)
                .bind(record.password_hash)
                .bind(&roles)
                .bind(record.admin)
                .bind(record.service_account)
                .bind(now)
                .fetch_one(pool)
                .await
        });
        match inserted {
            Ok(row) => Ok(row.into_model()),
            Err(error) if is_unique_violation(&error) => Err(Error::Duplicate(format!("user {}", record.name))),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn update_user(&self, name: &str, changes: &UserChanges<'_>) -> Result<User> {
        let roles = changes.roles.map(|roles| serde_json::to_string(roles).expect("roles serialize"));
        let sql = format!(
            "UPDATE users SET password_hash = COALESCE($2, password_hash), roles = COALESCE($3, roles), \
             admin = COALESCE($4, admin), update_ts = $5 WHERE name = $1 RETURNING {COLUMNS}"
        );
        let row: Option<UserRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(name)
                .bind(changes.password_hash)
                .bind(roles.as_deref())
                .bind(changes.admin)
                .bind(now_millis())
                .fetch_optional(pool)
                .await
        })?;
        row.map(UserRow::into_model).ok_or_else(|| Error::NotFound(format!("user {name}")))
    }

    /// Deletes the user with their sessions and tokens (cascade).
    pub async fn delete_user(&self, name: &str) -> Result<()> {
        let deleted = on_pool!(self, pool => {
            sqlx::query("DELETE FROM users WHERE name = $1").bind(name).execute(pool).await.map(|done| done.rows_affected())
        })?;
        if deleted == 0 {
            return Err(Error::NotFound(format!("user {name}")));
        }
        Ok(())
    }
}
