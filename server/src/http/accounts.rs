//! `/api/v1/accounts`: the cloud accounts gennaker deploys to, and which roles may read them or
//! deploy to them (admins set them; deploy stages check WRITE).

use app::error::{AppError, ErrorBody};
use app::model::auth::{Account, AccountPermissions};
use axum::extract::{Path, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::auth::policy;
use crate::state::AppState;
use crate::store::Store;

use crate::cloud::accounts::KNOWN_ACCOUNTS;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(set_permissions))
}

/// Accounts the caller may read, with their permissions.
#[utoipa::path(get, path = "/accounts", tag = "auth", responses((status = 200, body = [Account]), (status = 401, body = ErrorBody)))]
pub async fn list(State(store): State<Store>, Authenticated(caller): Authenticated) -> Result<Json<Vec<Account>>, ApiError> {
    let mut permissions = store.account_permissions().await.map_err(AppError::from)?;
    let accounts = KNOWN_ACCOUNTS
        .iter()
        .map(|(name, provider)| Account {
            name: name.to_string(),
            cloud_provider: provider.to_string(),
            permissions: permissions.remove(*name).unwrap_or_default(),
        })
        .filter(|account| policy::may_use_account(&caller, &account.permissions, app::model::auth::Access::Read))
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
    let Some((name, provider)) = KNOWN_ACCOUNTS.iter().find(|(name, _)| *name == account) else {
        return Err(ApiError(AppError::not_found(format!("account {account} not found"))));
    };
    for role in permissions.read.iter().chain(&permissions.write) {
        app::model::auth::validate_role(role).map_err(AppError::from)?;
    }
    store.set_account_permissions(name, &permissions).await.map_err(AppError::from)?;
    Ok(Json(Account { name: name.to_string(), cloud_provider: provider.to_string(), permissions }))
}
