//! Reading the audit log (admins only); writing happens in `http::authenticate`.

use app::error::{AppError, Result};
use app::model::auth::{AuditEntry, Caller};
use app::ssr::AuditService;
use async_trait::async_trait;

use crate::auth::policy;
use crate::store::Store;

pub const MAX_PAGE: u32 = 500;

pub struct Audit {
    store: Store,
}

impl Audit {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[async_trait]
impl AuditService for Audit {
    async fn list(&self, caller: &Caller, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>> {
        policy::require_admin(caller)?;
        if limit == 0 || limit > MAX_PAGE {
            return Err(AppError::invalid("limit", format!("limit must be 1 to {MAX_PAGE}")));
        }
        Ok(self.store.list_audit(before, limit).await?)
    }
}
