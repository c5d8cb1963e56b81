//! The first start: with no user at all, create `admin` so someone can sign in. Its password is
//! `GENNAKER_ADMIN_PASSWORD` when set (unattended set-ups), else random and printed once to the
//! console (never to the log). Only the hash is stored.

use secrecy::{ExposeSecret, SecretString};

use super::token;
use crate::auth::service::Auth;
use crate::store::Store;
use crate::store::users::UserRecord;

pub const ADMIN: &str = "admin";

/// Creates `admin` when the store has no users; returns whether it did.
pub async fn ensure_admin(store: &Store, password: Option<&SecretString>) -> anyhow::Result<bool> {
    if store.count_users().await? > 0 {
        return Ok(false);
    }
    let generated = password.is_none();
    let password = match password {
        Some(password) => password.expose_secret().to_string(),
        None => token::random_secret()[..24].to_string(),
    };
    let hash = Auth::hash_new_password(&password)
        .await
        .map_err(|error| anyhow::anyhow!("GENNAKER_ADMIN_PASSWORD: {error}"))?;
    let record = UserRecord { name: ADMIN, password_hash: Some(&hash), roles: &[], admin: true, service_account: false };
    match store.insert_user(&record).await {
        Ok(_) => {}
        // Another instance on the same database created it first.
        Err(crate::store::Error::Duplicate(_)) => return Ok(false),
        Err(error) => return Err(error.into()),
    }
    if generated {
        eprintln!(
            "\n  gennaker created the user `admin` with the password:\n\n      {password}\n\n  \
             It is shown only this once. Change it with `gennaker user passwd admin`.\n"
        );
    }
    tracing::info!(user = ADMIN, generated, "created the first admin user");
    Ok(true)
}
