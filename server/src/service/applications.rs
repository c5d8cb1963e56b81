//! Applications: validate, authorize, then store.

use app::error::Result;
use app::model::auth::{Access, Caller, Permissions};
use app::model::{Application, ApplicationPatch, NewApplication};
use app::ssr::ApplicationService;
use async_trait::async_trait;

use crate::auth::policy;
use crate::store::Store;

pub struct Applications {
    store: Store,
}

impl Applications {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The application, if the caller has `access` to it.
    async fn authorized(&self, caller: &Caller, name: &str, access: Access) -> Result<Application> {
        let application = self.store.get_application(&name.to_ascii_lowercase()).await?;
        policy::require_application(caller, &application, access)?;
        Ok(application)
    }
}

#[async_trait]
impl ApplicationService for Applications {
    async fn list(&self, caller: &Caller) -> Result<Vec<Application>> {
        let all = self.store.list_applications().await?;
        Ok(all.into_iter().filter(|app| policy::may_access(caller, &app.permissions, Access::Read)).collect())
    }

    async fn get(&self, caller: &Caller, name: &str) -> Result<Application> {
        self.authorized(caller, name, Access::Read).await
    }

    async fn create(&self, caller: &Caller, new: NewApplication) -> Result<Application> {
        let new = new.validated()?;
        let created = self.store.insert_application(&new).await?;
        tracing::info!(application = %created.name, by = %caller.name, "application created");
        Ok(created)
    }

    async fn update(&self, caller: &Caller, name: &str, patch: ApplicationPatch) -> Result<Application> {
        let application = self.authorized(caller, name, Access::Write).await?;
        let patch = patch.validated()?;
        // Application-wide notifications may name only secrets the caller may use here.
        for (index, raw) in patch.notifications.iter().flatten().enumerate() {
            if let Some(secret) = raw.get("secretName").and_then(serde_json::Value::as_str) {
                let field = format!("notifications[{index}].secretName");
                crate::secrets::require_usable(&self.store, caller, &application.name, &field, secret).await?;
            }
        }
        Ok(self.store.update_application(&application.name, &patch).await?)
    }

    async fn delete(&self, caller: &Caller, name: &str) -> Result<()> {
        let application = self.authorized(caller, name, Access::Write).await?;
        self.store.delete_application(&application.name).await?;
        tracing::info!(application = %application.name, by = %caller.name, "application deleted");
        Ok(())
    }

    async fn set_permissions(&self, caller: &Caller, name: &str, permissions: Permissions) -> Result<Application> {
        let application = self.authorized(caller, name, Access::Write).await?;
        let permissions = permissions.validated()?;
        Ok(self.store.set_application_permissions(&application.name, &permissions).await?)
    }
}
