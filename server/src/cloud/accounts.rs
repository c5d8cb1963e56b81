//! The cloud accounts gennaker knows: the built-in `local`, the clouds file's (`--clouds-file`,
//! copied into the store at each start so every instance sees them) and those admins add
//! through the API. Everything that asks "which accounts are there" asks here, and the answer
//! always comes from the store, so an account added on one instance is known to all.

use std::path::Path;

use app::model::clouds::{AccountSource, CloudAccount, CloudsFile};

use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("clouds file {path}: {message}")]
    File { path: String, message: String },
    #[error("clouds file {path}: account {name}: {message}")]
    Invalid { path: String, name: String, message: String },
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

/// Every account, `local` first.
pub async fn all(store: &Store) -> Result<Vec<CloudAccount>, crate::store::Error> {
    let mut accounts = vec![CloudAccount::local()];
    accounts.extend(store.list_cloud_accounts().await?.into_iter().filter(|account| account.name != app::model::clouds::LOCAL_ACCOUNT));
    Ok(accounts)
}

/// The account named `name`, if there is one.
pub async fn find(store: &Store, name: &str) -> Result<Option<CloudAccount>, crate::store::Error> {
    Ok(all(store).await?.into_iter().find(|account| account.name == name))
}

/// Reads a clouds file (JSON, or YAML when it does not start with `{`) and checks each
/// account; a bad file stops the start with a message naming the account and field.
pub fn read_file(path: &Path) -> Result<CloudsFile, Error> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::File { path: shown.clone(), message: e.to_string() })?;
    let file: CloudsFile = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text).map_err(|e| Error::File { path: shown.clone(), message: e.to_string() })?
    } else {
        serde_saphyr::from_str(&text).map_err(|e| Error::File { path: shown.clone(), message: e.to_string() })?
    };
    let mut seen = std::collections::BTreeSet::new();
    for account in &file.accounts {
        account.validate().map_err(|e| Error::Invalid { path: shown.clone(), name: account.name.clone(), message: e.to_string() })?;
        if !seen.insert(account.name.clone()) {
            return Err(Error::Invalid { path: shown.clone(), name: account.name.clone(), message: "listed twice".into() });
        }
    }
    Ok(file)
}

/// Makes the store's file accounts what the clouds file says: each added or replaced (an API
/// account of the same name is replaced: the operator's file wins), and file accounts no
/// longer in the file removed.
pub async fn sync_file(store: &Store, file: &CloudsFile) -> Result<(), Error> {
    for account in &file.accounts {
        let mut account = account.clone();
        account.source = AccountSource::File;
        store.upsert_cloud_account(&account).await?;
    }
    for stored in store.list_cloud_accounts().await? {
        if stored.source == AccountSource::File && !file.accounts.iter().any(|account| account.name == stored.name) {
            store.delete_cloud_account(&stored.name).await?;
        }
    }
    Ok(())
}
