//! Cloud accounts as configuration, for REST (`/api/v1/clouds/accounts`) and the admin page:
//! admins list, add or replace and delete accounts; the caching agents follow at once.
//! Accounts of the clouds file are the operator's (the next start would undo a change made
//! here) and `local` is built in: both are refused with 409.

use app::error::{AppError, Result};
use app::model::auth::Caller;
use app::model::clouds::{AccountSource, CloudAccount, LOCAL_ACCOUNT};
use app::ssr::CloudAccountService;
use async_trait::async_trait;

use crate::auth::policy;
use crate::cloud::clouds::Clouds;
use crate::store::Store;

pub struct CloudAccounts {
    store: Store,
    clouds: Clouds,
}

impl CloudAccounts {
    pub fn new(store: Store, clouds: Clouds) -> Self {
        Self { store, clouds }
    }

    /// Refuses changes to `local` and to the clouds file's accounts.
    async fn changeable(&self, name: &str) -> Result<()> {
        if name == LOCAL_ACCOUNT {
            return Err(AppError::conflict("name", "local is built in and cannot be changed"));
        }
        let existing = crate::cloud::accounts::find(&self.store, name).await?;
        if existing.is_some_and(|account| account.source == AccountSource::File) {
            return Err(AppError::conflict("name", format!("account {name} is defined in the clouds file; change it there")));
        }
        Ok(())
    }
}

#[async_trait]
impl CloudAccountService for CloudAccounts {
    async fn list(&self, caller: &Caller) -> Result<Vec<CloudAccount>> {
        policy::require_admin(caller)?;
        let mut accounts = crate::cloud::accounts::all(&self.store).await?;
        if let Ok(kubernetes) = self.clouds.kubernetes() {
            for account in &mut accounts {
                account.status = kubernetes.status(&account.name);
            }
        }
        if let Some(aws) = self.clouds.aws() {
            for account in accounts.iter_mut().filter(|account| account.cloud_provider == app::model::clouds::CloudProviderKind::Aws) {
                account.status = aws.status(&account.name);
            }
        }
        Ok(accounts)
    }

    async fn put(&self, caller: &Caller, name: &str, mut account: CloudAccount) -> Result<CloudAccount> {
        policy::require_admin(caller)?;
        if account.name.is_empty() {
            account.name = name.to_string();
        }
        if account.name != name {
            return Err(AppError::invalid("name", format!("the body names account {:?}, the path {name:?}", account.name)));
        }
        self.changeable(name).await?;
        account.source = AccountSource::Api;
        account.status = None;
        account.validate()?;
        if let Some(settings) = &account.kubernetes {
            if let Some(secret) = &settings.kubeconfig_secret
                && self.store.secret_scope(secret).await.is_err()
            {
                return Err(AppError::invalid("kubernetes.kubeconfigSecret", format!("secret {secret:?} is not in the secrets store")));
            }
            if let Some(file) = &settings.kubeconfig_file
                && !std::path::Path::new(file).is_file()
            {
                return Err(AppError::invalid("kubernetes.kubeconfigFile", format!("{file} is not a file on the gennaker host")));
            }
        }
        if let Some(secret) = account.aws.as_ref().and_then(|settings| settings.credentials_secret.as_ref())
            && self.store.secret_scope(secret).await.is_err()
        {
            return Err(AppError::invalid("aws.credentialsSecret", format!("secret {secret:?} is not in the secrets store")));
        }
        self.store.upsert_cloud_account(&account).await?;
        self.clouds.sync_aws_locations().await;
        self.clouds.accounts_changed();
        tracing::info!(account = %account.name, provider = account.cloud_provider.as_str(), by = %caller.name, "cloud account saved");
        Ok(account)
    }

    async fn delete(&self, caller: &Caller, name: &str) -> Result<()> {
        policy::require_admin(caller)?;
        self.changeable(name).await?;
        if !self.store.delete_cloud_account(name).await? {
            return Err(AppError::not_found(format!("account {name} not found")));
        }
        self.clouds.sync_aws_locations().await;
        self.clouds.accounts_changed();
        tracing::info!(account = %name, by = %caller.name, "cloud account deleted");
        Ok(())
    }
}
