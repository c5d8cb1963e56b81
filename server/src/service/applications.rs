//! Applications: validate, then store.

use app::error::Result;
use app::model::{Application, ApplicationPatch, NewApplication};
use app::ssr::ApplicationService;
use async_trait::async_trait;

use crate::store::Store;

pub struct Applications {
    store: Store,
}

impl Applications {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[async_trait]
impl ApplicationService for Applications {
    async fn list(&self) -> Result<Vec<Application>> {
        Ok(self.store.list_applications().await?)
    }

    async fn get(&self, name: &str) -> Result<Application> {
        Ok(self.store.get_application(&name.to_ascii_lowercase()).await?)
    }

    async fn create(&self, new: NewApplication) -> Result<Application> {
        let new = new.validated()?;
        let created = self.store.insert_application(&new).await?;
        tracing::info!(application = %created.name, "application created");
        Ok(created)
    }

    async fn update(&self, name: &str, patch: ApplicationPatch) -> Result<Application> {
        let patch = patch.validated()?;
        Ok(self.store.update_application(&name.to_ascii_lowercase(), &patch).await?)
    }

    async fn delete(&self, name: &str) -> Result<()> {
        self.store.delete_application(&name.to_ascii_lowercase()).await?;
        tracing::info!(application = %name, "application deleted");
        Ok(())
    }
}
