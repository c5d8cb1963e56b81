//! Who may do what: users, their API tokens, roles and the permissions applications grant.
//! Password hashes and token secrets never appear in these types (except the one response that
//! shows a new token once).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::time::EpochMillis;

/// A person or a service account. Roles are names such as `ops` or `team-shop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub name: String,
    pub roles: Vec<String>,
    /// Admins bypass every permission check.
    pub admin: bool,
    /// Service accounts cannot sign in; automation (triggers) runs as them with API tokens.
    pub service_account: bool,
    pub create_ts: EpochMillis,
    pub update_ts: EpochMillis,
}

/// The body of `POST /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    /// Required for people, absent for service accounts.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub service_account: bool,
}

/// The body of `PATCH /api/v1/users/{name}`: fields left out stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub password: Option<String>,
    /// Changing one's own password needs the current one (an admin resetting someone else's
    /// does not).
    #[serde(default)]
    pub current_password: Option<String>,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub admin: Option<bool>,
}

/// The body of `POST /api/v1/session`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn").field("username", &self.username).field("password", &"***").finish()
    }
}

/// A personal API token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub user: String,
    pub create_ts: EpochMillis,
    pub expires_ts: Option<EpochMillis>,
    pub last_used_ts: Option<EpochMillis>,
}

/// The body of `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApiToken {
    pub name: String,
    /// Days until the token stops working; absent means the longest a token may live
    /// (`--token-max-days`). A token made with a token ends no later than that one.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// The answer to `POST /api/v1/tokens`: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub token: ApiToken,
    /// Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// What an application grants to which roles (Spinnaker's shape). An application whose lists
/// are all empty is open to every signed-in user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Permissions {
    #[serde(rename = "READ", default)]
    pub read: BTreeSet<String>,
    #[serde(rename = "WRITE", default)]
    pub write: BTreeSet<String>,
    #[serde(rename = "EXECUTE", default)]
    pub execute: BTreeSet<String>,
}

impl Permissions {
    pub fn is_open(&self) -> bool {
        self.read.is_empty() && self.write.is_empty() && self.execute.is_empty()
    }

    pub fn validated(self) -> Result<Self, RoleError> {
        for role in self.read.iter().chain(&self.write).chain(&self.execute) {
            validate_role(role)?;
        }
        Ok(self)
    }
}

/// What a cloud account grants (Spinnaker's shape): READ to see what runs there, WRITE to
/// deploy to it and change it. An account with no permissions is open to every signed-in user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AccountPermissions {
    #[serde(rename = "READ", default)]
    pub read: BTreeSet<String>,
    #[serde(rename = "WRITE", default)]
    pub write: BTreeSet<String>,
}

/// A cloud account and who may use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub name: String,
    pub cloud_provider: String,
    pub permissions: AccountPermissions,
}

/// What a caller wants to do to an application or account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Access {
    /// See it.
    Read,
    /// Change it (and, for accounts, deploy to it).
    Write,
    /// Run its pipelines and press manual judgment buttons.
    Execute,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role names are 1 to 64 letters, digits, '-', '_' or '.', got {0:?}")]
pub struct RoleError(pub String);

pub fn validate_role(role: &str) -> Result<(), RoleError> {
    let ok = !role.is_empty()
        && role.len() <= 64
        && role.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok { Ok(()) } else { Err(RoleError(role.to_string())) }
}

/// User names follow the same rule as roles (they appear in audit lines and URLs).
pub fn validate_user_name(name: &str) -> Result<(), RoleError> {
    validate_role(name)
}

/// The authenticated caller of a request, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub name: String,
    pub roles: Vec<String>,
    pub admin: bool,
    /// How the request proved who it is: a browser session cookie or a bearer token.
    pub via: Credential,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credential {
    Session,
    /// An API token, and when it expires (epoch ms; `None`: tokens made before lifetimes were
    /// bounded): a token it creates may not outlive it.
    Token { expires_ts: Option<i64> },
    /// The server itself (start-up, the command line).
    System,
}

impl Caller {
    pub fn system() -> Self {
        Self { name: "system".into(), roles: vec![], admin: true, via: Credential::System }
    }
}

/// A stored secret as listed: name and metadata, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SecretInfo {
    pub name: String,
    pub description: String,
    /// Who may reference it: pipelines saved by a holder of one of these roles ...
    #[serde(default)]
    pub roles: Vec<String>,
    /// ... or pipelines of these applications (`*`: any). Both empty: admins only.
    #[serde(default)]
    pub applications: Vec<String>,
    pub create_ts: EpochMillis,
    pub update_ts: EpochMillis,
}

/// The body of `POST /api/v1/secrets` (with `name`) and `PUT /api/v1/secrets/{name}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretWrite {
    #[serde(default)]
    pub name: Option<String>,
    pub value: String,
    #[serde(default)]
    pub description: String,
    /// Pipelines saved by a holder of one of these roles may reference the secret.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Pipelines of these applications may reference the secret (`*`: any application).
    #[serde(default)]
    pub applications: Vec<String>,
}

impl std::fmt::Debug for SecretWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretWrite")
            .field("name", &self.name)
            .field("value", &"***")
            .field("roles", &self.roles)
            .field("applications", &self.applications)
            .finish()
    }
}

/// One recorded mutation: who did what, when, from where, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub ts: EpochMillis,
    /// User name, or `anonymous` for a failed sign-in.
    pub actor: String,
    /// e.g. `PATCH /api/v1/applications/{name}` or `sign_in`.
    pub action: String,
    /// The concrete path acted on.
    pub target: String,
    /// The client's IP address.
    pub address: String,
    /// The HTTP status it was answered with.
    pub status: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_use_spinnaker_keys() {
        let permissions: Permissions = serde_json::from_str(r#"{"READ":["ops","dev"],"EXECUTE":["ops"]}"#).unwrap();
        assert!(permissions.read.contains("dev"));
        assert!(permissions.write.is_empty());
        assert!(!permissions.is_open());
        assert!(Permissions::default().is_open());
        assert!(serde_json::from_str::<Permissions>(r#"{"ADMIN":[]}"#).is_err());
    }

    #[test]
    fn secrets_never_print() {
        let sign_in = SignIn { username: "a".into(), password: "hunter2".into() };
        assert!(!format!("{sign_in:?}").contains("hunter2"));
        let write = SecretWrite { name: None, value: "s3cret".into(), description: String::new(), roles: vec![], applications: vec![] };
        assert!(!format!("{write:?}").contains("s3cret"));
    }

    #[test]
    fn roles_are_plain_names() {
        assert!(validate_role("team-shop.ops_1").is_ok());
        assert!(validate_role("").is_err());
        assert!(validate_role("a b").is_err());
    }
}
