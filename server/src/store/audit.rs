//! The audit log in the store: append-only.

use app::model::auth::AuditEntry;

use super::{Result, Store, on_pool};

#[derive(Debug, sqlx::FromRow)]
struct AuditRow {
    id: i64,
    ts: i64,
    actor: String,
    action: String,
    target: String,
    address: String,
    status: i32,
}

impl AuditRow {
    fn into_model(self) -> AuditEntry {
        AuditEntry {
            id: self.id,
            ts: self.ts,
            actor: self.actor,
            action: self.action,
            target: self.target,
            address: self.address,
            status: u16::try_from(self.status).unwrap_or_default(),
        }
    }
}

/// One entry to append.
pub struct NewAuditEntry<'a> {
    pub ts: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub address: &'a str,
    pub status: u16,
}

impl Store {
    pub async fn append_audit(&self, entry: &NewAuditEntry<'_>) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO audit_log (ts, actor, action, target, address, status) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(entry.ts).bind(entry.actor).bind(entry.action).bind(entry.target).bind(entry.address)
                .bind(i32::from(entry.status))
                .execute(pool).await.map(drop)
        })?;
        Ok(())
    }

    /// Newest first, ids below `before` when given.
    pub async fn list_audit(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, ts, actor, action, target, address, status FROM audit_log \
                 WHERE id < $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(before.unwrap_or(i64::MAX)).bind(i64::from(limit)).fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(AuditRow::into_model).collect())
    }
}
