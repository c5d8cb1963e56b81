//! The cloud accounts gennaker deploys to:
//! - `/api/v1/accounts`: each account the caller may read, with which roles may read it or
//!   deploy to it (admins set them; every stage checks WRITE on the accounts it changes);
//! - `/api/v1/clouds/accounts`: the accounts as configuration (admins only): list, add or
//!   replace, delete. Accounts of the clouds file are shown but not changed here (the next
//!   start would undo it), and `local` is built in.

use app::error::{AppError, ErrorBody};
use app::model::auth::{Access, Account, AccountPermissions};
use app::model::clouds::CloudAccount;
use app::ssr::Services;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::auth::policy;
use crate::state::AppState;
use crate::store::Store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(set_permissions))
        .routes(routes!(list_cloud_accounts))
        .routes(routes!(put_cloud_account, delete_cloud_account))
}

/// Accounts the caller may read, with their permissions.
#[utoipa::path(get, path = "/accounts", tag = "auth", responses((status = 200, body = [Account]), (status = 401, body = ErrorBody)))]
pub async fn list(State(store): State<Store>, Authenticated(caller): Authenticated) -> Result<Json<Vec<Account>>, ApiError> {
    let mut permissions = store.account_permissions().await.map_err(AppError::from)?;
    let accounts = crate::cloud::accounts::all(&store).await.map_err(AppError::from)?;
    let accounts = accounts
        .into_iter()
        .map(|account| Account {
            permissions: permissions.remove(&account.name).unwrap_or_default(),
            name: account.name,
            cloud_provider: account.cloud_provider.as_str().to_string(),
        })
        .filter(|account| policy::may_use_account(&caller, &account.permissions, Access::Read))
        .collect();
    Ok(Json(accounts))
}

/// Grants roles READ and WRITE on an account (`{"READ":[..],"WRITE":[..]}`; admins only).
#[utoipa::path(put, path = "/accounts/{account}/permissions", tag = "auth", request_body = AccountPermissions,
    params(("account" = String, Path, description = "account name")),
    responses((status = 200, body = Account), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_permissions(
    State(store): State<Store>,
    Authenticated(caller): Authenticated,
    Path(account): Path<String>,
    Json(permissions): Json<AccountPermissions>,
) -> Result<Json<Account>, ApiError> {
    policy::require_admin(&caller)?;
    let Some(found) = crate::cloud::accounts::find(&store, &account).await.map_err(AppError::from)? else {
        return Err(ApiError(AppError::not_found(format!("account {account} not found"))));
    };
    for role in permissions.read.iter().chain(&permissions.write) {
        app::model::auth::validate_role(role).map_err(AppError::from)?;
    }
    store.set_account_permissions(&found.name, &permissions).await.map_err(AppError::from)?;
    Ok(Json(Account { name: found.name, cloud_provider: found.cloud_provider.as_str().to_string(), permissions }))
}

/// Every cloud account's configuration (admins only): provider, regions or namespaces, and
/// where its credentials come from (a file path or a secret's name, never the credentials).
#[utoipa::path(get, path = "/clouds/accounts", tag = "clouds",
    responses((status = 200, body = [CloudAccount]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_cloud_accounts(State(services): State<Services>, Authenticated(caller): Authenticated) -> Result<Json<Vec<CloudAccount>>, ApiError> {
    Ok(Json(services.cloud_accounts.list(&caller).await?))
}

/// Adds or replaces a cloud account (admins only); its caching agent starts at once. A
/// kubeconfig secret must be in the secrets store, a kubeconfig file on this host.
#[utoipa::path(put, path = "/clouds/accounts/{name}", tag = "clouds", request_body = CloudAccount,
    params(("name" = String, Path, description = "account name")),
    responses((status = 200, body = CloudAccount), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn put_cloud_account(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
    Json(account): Json<CloudAccount>,
) -> Result<Json<CloudAccount>, ApiError> {
    Ok(Json(services.cloud_accounts.put(&caller, &name, account).await?))
}

/// Deletes a cloud account made through the API (admins only); what it showed leaves the
/// clusters view. Its permissions are kept, so an account added again under the same name
/// gets them back.
#[utoipa::path(delete, path = "/clouds/accounts/{name}", tag = "clouds",
    params(("name" = String, Path, description = "account name")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_cloud_account(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    services.cloud_accounts.delete(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
