//! Sign-in, sessions, API tokens and users: the `AuthService` behind REST and the UI.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::error::{AppError, Result};
use app::model::auth::{
    ApiToken, Caller, CreatedApiToken, Credential, NewApiToken, NewUser, SignIn, User, UserPatch,
    validate_role, validate_user_name,
};
use app::ssr::{AuthService, SignedIn};
use async_trait::async_trait;

use super::throttle::{Limits, Throttle};
use super::{SESSION_COOKIE, password, policy, token};
use crate::store::users::{UserChanges, UserRecord};
use crate::store::{Store, now_millis};

#[derive(Debug, Clone, Copy)]
pub struct AuthConfig {
    pub session_ttl: Duration,
    /// The longest an API token may live (a token asked for without a lifetime gets this).
    pub token_max_days: u32,
    /// Mark the cookie `Secure` (when gennaker is served over HTTPS, directly or by a proxy).
    pub secure_cookies: bool,
}

pub struct Auth {
    store: Store,
    config: AuthConfig,
    accounts: Throttle,
    addresses: Throttle,
}

const WRONG_CREDENTIALS: &str = "wrong user name or password";
pub const MAX_TOKEN_DAYS: u32 = 3650;

impl Auth {
    pub fn new(store: Store, config: AuthConfig) -> Arc<Self> {
        let per_account = Limits { free_failures: 5, max_lockout: Duration::from_secs(900), forget_after: Duration::from_secs(3600) };
        let per_address = Limits { free_failures: 20, ..per_account };
        Arc::new(Self { store, config, accounts: Throttle::new(per_account), addresses: Throttle::new(per_address) })
    }

    fn cookie(&self, value: &str, max_age: u64) -> String {
        let secure = if self.config.secure_cookies { "; Secure" } else { "" };
        format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clearing_cookie(&self) -> String {
        self.cookie("", 0)
    }

    fn caller_for(user: User, via: Credential) -> Caller {
        Caller { name: user.name, roles: user.roles, admin: user.admin, via }
    }

    /// The user whose password this is, throttled per account and per address (sign-in and
    /// HTTP Basic authentication share the throttle).
    async fn check_password(&self, credentials: SignIn, address: IpAddr) -> Result<User> {
        let now = Instant::now();
        let account_key = credentials.username.to_ascii_lowercase();
        let address_key = address.to_string();
        // Each attempt counts as a failure from here until the password matches (see
        // `Throttle::attempt`).
        self.accounts.attempt(&account_key, now).map_err(Self::too_many)?;
        self.addresses.attempt(&address_key, now).map_err(Self::too_many)?;

        let found = self.store.user_with_hash(&credentials.username).await?;
        let (user, hash) = match found {
            Some((user, hash)) if !user.service_account => (Some(user), hash),
            _ => (None, None),
        };
        let matches = password::verify(credentials.password, hash).await.map_err(|error| {
            tracing::error!(%error, "password verification failed");
            AppError::Internal
        })?;
        let user = match (matches, user) {
            (true, Some(user)) => user,
            _ => {
                tracing::info!(user = %credentials.username, %address, "failed sign-in");
                return Err(AppError::unauthenticated(WRONG_CREDENTIALS));
            }
        };
        self.accounts.record_success(&account_key);
        self.addresses.release(&address_key);
        Ok(user)
    }

    fn too_many(wait: Duration) -> AppError {
        let seconds = wait.as_secs().max(1);
        AppError::TooManyRequests {
            message: format!("too many failed sign-ins; try again in {seconds} s"),
            retry_after_seconds: seconds,
        }
    }

    /// Hashes a new password after checking it.
    pub async fn hash_new_password(password: &str) -> Result<String> {
        password::validate(password)?;
        password::hash(password.to_string()).await.map_err(|error| {
            tracing::error!(%error, "password hashing failed");
            AppError::Internal
        })
    }

    fn validate_roles(roles: &[String]) -> Result<()> {
        for role in roles {
            validate_role(role)?;
        }
        Ok(())
    }
}

#[async_trait]
impl AuthService for Auth {
    async fn sign_in(&self, credentials: SignIn, address: IpAddr) -> Result<SignedIn> {
        let user = self.check_password(credentials, address).await?;
        let address_key = address.to_string();
        let session_token = token::random_secret();
        let ttl = self.config.session_ttl.as_secs();
        let expires = now_millis() + (ttl as i64) * 1000;
        self.store.insert_session(&token::digest(&session_token), &user.name, expires, &address_key).await?;
        tracing::info!(user = %user.name, %address, "signed in");
        Ok(SignedIn { set_cookie: self.cookie(&session_token, ttl), user })
    }

    async fn basic_caller(&self, username: &str, secret: &str, address: IpAddr) -> Result<Caller> {
        if secret.starts_with(token::API_TOKEN_PREFIX) {
            // `spin` and Terraform send a token as the password; it must be that user's.
            return match self.token_caller(secret).await? {
                Some(caller) if caller.name.eq_ignore_ascii_case(username) => Ok(caller),
                _ => Err(AppError::unauthenticated("invalid or expired API token for this user")),
            };
        }
        let user = self.check_password(SignIn { username: username.to_string(), password: secret.to_string() }, address).await?;
        Ok(Self::caller_for(user, Credential::Session))
    }


    async fn sign_out(&self, session_token: &str) -> Result<String> {
        self.store.delete_session(&token::digest(session_token)).await?;
        Ok(self.clearing_cookie())
    }

    async fn session_caller(&self, session_token: &str) -> Result<Option<Caller>> {
        let user = self.store.session_user(&token::digest(session_token), now_millis()).await?;
        Ok(user.map(|user| Self::caller_for(user, Credential::Session)))
    }

    async fn token_caller(&self, secret: &str) -> Result<Option<Caller>> {
        if !secret.starts_with(token::API_TOKEN_PREFIX) {
            return Ok(None);
        }
        let found = self.store.api_token_user(&token::digest(secret), now_millis()).await?;
        Ok(found.map(|(user, expires_ts)| Self::caller_for(user, Credential::Token { expires_ts })))
    }

    async fn me(&self, caller: &Caller) -> Result<User> {
        Ok(self.store.get_user(&caller.name).await?)
    }

    async fn create_token(&self, caller: &Caller, new: NewApiToken) -> Result<CreatedApiToken> {
        let name = new.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(AppError::invalid("name", "token name must be 1 to 100 characters"));
        }
        let max_days = self.config.token_max_days.clamp(1, MAX_TOKEN_DAYS);
        let days = match new.expires_in_days {
            Some(days) if !(1..=max_days).contains(&days) => {
                return Err(AppError::invalid("expiresInDays", format!("expiresInDays must be 1 to {max_days}")));
            }
            Some(days) => days,
            None => max_days,
        };
        let mut expires_ts = now_millis() + i64::from(days) * 86_400_000;
        // A token made with a token ends when that one does: a leaked short-lived token cannot
        // mint a long-lived one.
        if let Credential::Token { expires_ts: Some(creator_expires) } = caller.via {
            expires_ts = expires_ts.min(creator_expires);
        }
        let expires_ts = Some(expires_ts);
        let secret = token::new_api_token();
        let created = self
            .store
            .insert_api_token(&token::new_id(), &caller.name, name, &token::digest(&secret), expires_ts)
            .await?;
        Ok(CreatedApiToken { token: created, secret })
    }

    async fn list_tokens(&self, caller: &Caller) -> Result<Vec<ApiToken>> {
        Ok(self.store.list_api_tokens(&caller.name).await?)
    }

    async fn revoke_token(&self, caller: &Caller, id: &str) -> Result<()> {
        Ok(self.store.delete_api_token(&caller.name, id).await?)
    }

    async fn list_users(&self, caller: &Caller) -> Result<Vec<User>> {
        policy::require_admin(caller)?;
        Ok(self.store.list_users().await?)
    }

    async fn create_user(&self, caller: &Caller, new: NewUser) -> Result<User> {
        policy::require_admin(caller)?;
        validate_user_name(&new.name).map_err(|error| AppError::invalid("name", error.to_string()))?;
        Self::validate_roles(&new.roles)?;
        let hash = match (&new.password, new.service_account) {
            (Some(_), true) => return Err(AppError::invalid("password", "service accounts cannot sign in, so take no password")),
            (None, false) => return Err(AppError::invalid("password", "a password is required")),
            (Some(password), false) => Some(Self::hash_new_password(password).await?),
            (None, true) => None,
        };
        let record = UserRecord {
            name: &new.name,
            password_hash: hash.as_deref(),
            roles: &new.roles,
            admin: new.admin,
            service_account: new.service_account,
        };
        Ok(self.store.insert_user(&record).await?)
    }

    async fn update_user(&self, caller: &Caller, name: &str, patch: UserPatch) -> Result<User> {
        // Everyone may change their own password; the rest is for admins.
        let own_password_only = caller.name == name && patch.roles.is_none() && patch.admin.is_none();
        if !own_password_only {
            policy::require_admin(caller)?;
        }
        if let Some(roles) = &patch.roles {
            Self::validate_roles(roles)?;
        }
        let existing = self.store.get_user(name).await?;
        if patch.password.is_some() && caller.name == name {
            // Whoever holds a session or token of the user must not be able to take the account
            // over by setting a new password without knowing the old one.
            let current = patch.current_password.clone().unwrap_or_default();
            let stored = self.store.user_with_hash(name).await?.and_then(|(_, hash)| hash);
            let matches = password::verify(current, stored).await.map_err(|error| {
                tracing::error!(%error, "password verification failed");
                AppError::Internal
            })?;
            if !matches {
                return Err(AppError::invalid("currentPassword", "the current password is needed to set a new one, and this is not it"));
            }
        }
        let hash = match &patch.password {
            Some(_) if existing.service_account => {
                return Err(AppError::invalid("password", "service accounts cannot sign in, so take no password"));
            }
            Some(password) => Some(Self::hash_new_password(password).await?),
            None => None,
        };
        let changes = UserChanges { password_hash: hash.as_deref(), roles: patch.roles.as_deref(), admin: patch.admin };
        let user = self.store.update_user(name, &changes).await?;
        if hash.is_some() {
            // A new password ends every session and token: a stolen one stops working.
            self.store.delete_sessions_of(name).await?;
            self.store.delete_api_tokens_of(name).await?;
        }
        Ok(user)
    }

    async fn delete_user(&self, caller: &Caller, name: &str) -> Result<()> {
        policy::require_admin(caller)?;
        if caller.name == name {
            return Err(AppError::invalid("name", "you cannot delete yourself"));
        }
        Ok(self.store.delete_user(name).await?)
    }
}
