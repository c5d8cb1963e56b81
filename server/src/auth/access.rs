//! Who may use an application or an account, asked of the store: the checks every door
//! (REST, server functions, the launcher, triggers) makes before acting. The rules themselves
//! are pure functions in `policy`.

use std::collections::BTreeSet;

use app::error::Result;
use app::model::auth::{Access, Caller};

use super::policy;
use crate::store::Store;

/// Fails unless `caller` has `access` on `application` (404 when it does not exist).
pub async fn authorize(store: &Store, caller: &Caller, application: &str, access: Access) -> Result<()> {
    let application = store.get_application(&application.to_ascii_lowercase()).await?;
    policy::require_application(caller, &application, access)
}

/// Whoever runs stages that change cloud `accounts` needs WRITE on each. An account written
/// as an expression is only known at run time, so it needs WRITE on every account.
pub async fn require_accounts(store: &Store, caller: &Caller, accounts: BTreeSet<String>) -> Result<()> {
    require_account_access(store, caller, accounts, Access::Write).await
}

/// Whoever runs stages that read cloud `accounts` (a `clusterSize` precondition) needs READ on
/// each, as the clusters view does.
pub async fn require_accounts_read(store: &Store, caller: &Caller, accounts: BTreeSet<String>) -> Result<()> {
    require_account_access(store, caller, accounts, Access::Read).await
}

async fn require_account_access(store: &Store, caller: &Caller, accounts: BTreeSet<String>, access: Access) -> Result<()> {
    let mut accounts: BTreeSet<String> = accounts;
    if accounts.iter().any(|account| account.contains("${")) {
        accounts.retain(|account| !account.contains("${"));
        accounts.extend(crate::cloud::accounts::all(store).await?.into_iter().map(|account| account.name));
    }
    if accounts.is_empty() {
        return Ok(());
    }
    let mut permissions = store.account_permissions().await?;
    for account in &accounts {
        let granted = permissions.remove(account).unwrap_or_default();
        policy::require_account(caller, account, &granted, access)?;
    }
    Ok(())
}


/// Whoever runs stages that act on other applications' server groups, load balancers or
/// security groups (by the naming convention) needs WRITE on each; `own` is the pipeline's
/// application. A name no application holds is nobody's (anyone could create that
/// application and own it), so it passes; one still written as an expression is checked when
/// the stage runs.
pub async fn require_applications_acted_on(store: &Store, caller: &Caller, own: &str, applications: BTreeSet<String>) -> Result<()> {
    for application in applications {
        if application == own || application.contains("${") || application.is_empty() {
            continue;
        }
        match store.get_application(&application).await {
            Ok(found) => policy::require_application(caller, &found, Access::Write).map_err(|_| {
                app::error::AppError::forbidden(format!(
                    "{} needs WRITE permission on application {application} to act on its resources from application {own}",
                    caller.name
                ))
            })?,
            Err(crate::store::Error::NotFound(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}
