//! Applications in the store.

use app::model::auth::Permissions;
use app::model::{Application, ApplicationPatch, NewApplication};

use super::{Error, Result, Store, is_unique_violation, now_millis, on_pool};

#[derive(Debug, sqlx::FromRow)]
struct ApplicationRow {
    name: String,
    description: String,
    email: String,
    create_ts: i64,
    update_ts: i64,
    /// JSON of `Permissions`.
    permissions: String,
    /// JSON list of notification configurations.
    notifications: String,
}

impl ApplicationRow {
    fn into_model(self) -> Application {
        let permissions = serde_json::from_str(&self.permissions).unwrap_or_else(|error| {
            // Only this module writes the column, always from `Permissions`; a row that does
            // not parse was edited by hand. Closed is the safe reading.
            tracing::error!(%error, application = %self.name, "unreadable permissions; treating as admin-only");
            Permissions { read: ["admin-only".to_string()].into(), ..Permissions::default() }
        });
        Application {
            name: self.name,
            description: self.description,
            email: self.email,
            create_ts: self.create_ts,
            update_ts: self.update_ts,
            permissions,
            notifications: serde_json::from_str(&self.notifications).unwrap_or_default(),
        }
    }
}

const COLUMNS: &str = "name, description, email, create_ts, update_ts, permissions, notifications";

impl Store {
    pub async fn list_applications(&self) -> Result<Vec<Application>> {
        let sql = format!("SELECT {COLUMNS} FROM applications ORDER BY name");
        let rows: Vec<ApplicationRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(ApplicationRow::into_model).collect())
    }

    pub async fn get_application(&self, name: &str) -> Result<Application> {
        let sql = format!("SELECT {COLUMNS} FROM applications WHERE name = $1");
        let row: Option<ApplicationRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(name).fetch_optional(pool).await)?;
        row.map(ApplicationRow::into_model)
            .ok_or_else(|| Error::NotFound(format!("application {name}")))
    }

    /// Inserts a validated application; a second one with the same name is `Duplicate`.
    pub async fn insert_application(&self, new: &NewApplication) -> Result<Application> {
        let now = now_millis();
        let sql = format!(
            "INSERT INTO applications ({COLUMNS}) VALUES ($1, $2, $3, $4, $4, '{{}}', '[]') RETURNING {COLUMNS}"
        );
        let inserted: Result<ApplicationRow, sqlx::Error> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(&new.name)
                .bind(&new.description)
                .bind(&new.email)
                .bind(now)
                .fetch_one(pool)
                .await
        });
        match inserted {
            Ok(row) => Ok(row.into_model()),
            Err(error) if is_unique_violation(&error) => {
                Err(Error::Duplicate(format!("application {}", new.name)))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Applies a validated patch in one statement, so concurrent patches never lose a field.
    pub async fn update_application(&self, name: &str, patch: &ApplicationPatch) -> Result<Application> {
        let sql = format!(
            "UPDATE applications SET description = COALESCE($2, description), \
             email = COALESCE($3, email), notifications = COALESCE($5, notifications), update_ts = $4 \
             WHERE name = $1 RETURNING {COLUMNS}"
        );
        let notifications = patch.notifications.as_ref().map(|list| serde_json::to_string(list).expect("JSON serializes"));
        let row: Option<ApplicationRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(name)
                .bind(&patch.description)
                .bind(&patch.email)
                .bind(now_millis())
                .bind(&notifications)
                .fetch_optional(pool)
                .await
        })?;
        row.map(ApplicationRow::into_model)
            .ok_or_else(|| Error::NotFound(format!("application {name}")))
    }

    pub async fn set_application_permissions(&self, name: &str, permissions: &Permissions) -> Result<Application> {
        let json = serde_json::to_string(permissions).expect("permissions serialize");
        let sql = format!("UPDATE applications SET permissions = $2, update_ts = $3 WHERE name = $1 RETURNING {COLUMNS}");
        let row: Option<ApplicationRow> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(name).bind(&json).bind(now_millis()).fetch_optional(pool).await
        })?;
        row.map(ApplicationRow::into_model)
            .ok_or_else(|| Error::NotFound(format!("application {name}")))
    }

    /// Deletes the application with its pipelines (by cascade), runs, their events and queued
    /// messages, in one transaction: an application created later under the same name must not
    /// see them. Refused while any of its runs is still active.
    pub async fn delete_application(&self, name: &str) -> Result<()> {
        let outcome: std::result::Result<std::result::Result<u64, Error>, sqlx::Error> = on_pool!(self, pool => {
            async {
                let mut tx = pool.begin().await?;
                let active: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM executions WHERE application = $1 AND status IN ('NOT_STARTED', 'BUFFERED', 'RUNNING', 'PAUSED')",
                )
                .bind(name).fetch_one(&mut *tx).await?;
                if active > 0 {
                    return Ok(Err(Error::InUse("application".into(), format!("application {name} has {active} active runs: cancel them first"))));
                }
                sqlx::query("DELETE FROM queue WHERE execution_id IN (SELECT id FROM executions WHERE application = $1)").bind(name).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM execution_events WHERE application = $1").bind(name).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM executions WHERE application = $1").bind(name).execute(&mut *tx).await?;
                let deleted = sqlx::query("DELETE FROM applications WHERE name = $1").bind(name).execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                Ok(Ok(deleted))
            }.await
        });
        match outcome?? {
            0 => Err(Error::NotFound(format!("application {name}"))),
            _ => Ok(()),
        }
    }
}
