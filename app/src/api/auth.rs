//! Server functions for signing in and out, the current user, API tokens and the audit log.
//! Sign-in and the current user have fixed endpoints (`/api/sign_in`, `/api/current_user`)
//! because the server's auth layer lets exactly those paths through unauthenticated.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::auth::{ApiToken, AuditEntry, CreatedApiToken, User};

/// Only same-site paths, so a crafted link cannot bounce a fresh session elsewhere.
pub fn safe_next(next: &str) -> &str {
    // Browsers drop tabs and newlines from URLs (`/\t/evil` is `//evil`), so no control
    // character or space passes either.
    let plain = !next.chars().any(|c| c.is_control() || c.is_whitespace());
    if plain && next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") { next } else { "/" }
}

#[server(endpoint = "sign_in")]
pub async fn sign_in(username: String, password: String, next: String) -> Result<(), AppError> {
    use crate::model::auth::SignIn;
    use crate::ssr::{ClientAddress, services, with_status};
    let services = services()?;
    let address = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientAddress>().copied())
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |address| address.0);
    let signed_in = with_status(services.auth.sign_in(SignIn { username, password }, address).await)?;
    if let (Some(response), Ok(cookie)) = (use_context::<leptos_axum::ResponseOptions>(), signed_in.set_cookie.parse()) {
        response.insert_header(http::header::SET_COOKIE, cookie);
    }
    leptos_axum::redirect(safe_next(&next));
    Ok(())
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    let token = use_context::<http::request::Parts>()
        .and_then(|parts| crate::ssr::session_token(&parts.headers).map(str::to_string));
    if let Some(token) = token {
        let clear = crate::ssr::with_status(crate::ssr::services()?.auth.sign_out(&token).await)?;
        if let (Some(response), Ok(cookie)) = (use_context::<leptos_axum::ResponseOptions>(), clear.parse()) {
            response.insert_header(http::header::SET_COOKIE, cookie);
        }
    }
    leptos_axum::redirect("/signin");
    Ok(())
}

/// The signed-in user, or `None` on pages served signed out (so it is public, like sign-in).
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    match crate::ssr::maybe_caller() {
        None => Ok(None),
        Some(caller) => crate::ssr::with_status(crate::ssr::services()?.auth.me(&caller).await).map(Some),
    }
}

#[server]
pub async fn list_tokens() -> Result<Vec<ApiToken>, AppError> {
    crate::ssr::respond(async |services, caller| services.auth.list_tokens(&caller).await).await
}

/// `expires_in_days` empty means the token never expires.
#[server]
pub async fn create_token(name: String, expires_in_days: String) -> Result<CreatedApiToken, AppError> {
    let expires_in_days = match expires_in_days.trim() {
        "" => None,
        days => Some(days.parse::<u32>().map_err(|_| AppError::invalid("expiresInDays", "days must be a whole number"))?),
    };
    let new = crate::model::auth::NewApiToken { name, expires_in_days };
    crate::ssr::respond(async |services, caller| services.auth.create_token(&caller, new).await).await
}

#[server]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    crate::ssr::respond(async |services, caller| services.auth.revoke_token(&caller, &id).await).await
}

/// One page of the audit log, newest first (admins only).
#[server]
pub async fn list_audit(before: Option<i64>) -> Result<Vec<AuditEntry>, AppError> {
    crate::ssr::respond(async |services, caller| services.audit.list(&caller, before, AUDIT_PAGE).await).await
}

pub const AUDIT_PAGE: u32 = 50;

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/applications/shop"), "/applications/shop");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next("/\t/evil.example"), "/", "a tab the browser drops");
        assert_eq!(safe_next("/\n/evil.example"), "/");
    }
}
