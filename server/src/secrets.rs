//! The secrets store: values such as SMTP passwords, webhook signing keys and cloud credentials,
//! encrypted at rest with XChaCha20-Poly1305 (the secret's name is bound in as associated
//! data, so a ciphertext cannot be moved to another name). The 256-bit key comes from
//! `GENNAKER_SECRET_KEY` (base64) or a key file created with mode 0600 on first start.
//! Values are write-only through the API: listing shows names and metadata; only the server
//! reads a value back ([`Secrets::reveal`]), as a `SecretString` that never prints.
//!
//! A secret is scoped: it names the roles whose holders may reference it in a pipeline they
//! save, and the applications whose pipelines may reference it (`*`: any). Admins may always.
//! The scope is checked when a pipeline naming the secret is saved ([`require_usable`]) and
//! again each time a run uses it ([`Secrets::reveal_for`]), against the pipeline's
//! application and its last saver as they are then: narrowing a scope takes effect at once.

use std::io::Write;
use std::path::Path;

use app::error::{AppError, Result};
use app::model::auth::{Caller, SecretInfo, SecretWrite, validate_role};
use app::ssr::SecretService;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::SecretString;

use crate::auth::{policy, token};
use crate::store::Store;
use crate::store::secrets::{SealedSecret, StoredScope};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("GENNAKER_SECRET_KEY must be 32 bytes in base64")]
    BadKey,
    #[error("secret key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("secret {0} cannot be decrypted with this key")]
    Decrypt(String),
}

/// The encryption key; `Debug` does not show it.
pub struct SecretKey(Key);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| Error::BadKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| Error::BadKey)?;
        Ok(Self(bytes.into()))
    }

    /// Reads the key file, creating it (mode 0600, with its folder) when missing.
    pub fn load_or_create(path: &Path) -> Result<Self, Error> {
        let file_error = |source| Error::KeyFile { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(folder).map_err(file_error)?;
                }
                let encoded = STANDARD.encode(token::random_bytes::<32>());
                let mut file = create_private(path).map_err(file_error)?;
                file.write_all(encoded.as_bytes()).map_err(file_error)?;
                tracing::info!(path = %path.display(), "created a new secret key file");
                Self::from_base64(&encoded)
            }
            Err(error) => Err(file_error(error)),
        }
    }

    pub fn seal(&self, name: &str, value: &str) -> SealedSecret {
        let nonce = token::random_bytes::<24>();
        let cipher = XChaCha20Poly1305::new(&self.0);
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: value.as_bytes(), aad: name.as_bytes() })
            .expect("encryption of an in-memory value cannot fail");
        SealedSecret { nonce: nonce.to_vec(), ciphertext }
    }

    pub fn open(&self, name: &str, sealed: &SealedSecret) -> Result<SecretString, Error> {
        if sealed.nonce.len() != 24 {
            return Err(Error::Decrypt(name.to_string()));
        }
        let cipher = XChaCha20Poly1305::new(&self.0);
        let plain = cipher
            .decrypt(XNonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad: name.as_bytes() })
            .map_err(|_| Error::Decrypt(name.to_string()))?;
        let text = String::from_utf8(plain).map_err(|_| Error::Decrypt(name.to_string()))?;
        Ok(SecretString::from(text))
    }
}

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

pub const MAX_VALUE_LEN: usize = 64 * 1024;

pub struct Secrets {
    store: Store,
    key: SecretKey,
}

impl Secrets {
    pub fn new(store: Store, key: SecretKey) -> Self {
        Self { store, key }
    }

    /// A secret's value for a run of (or a trigger of) the pipeline `pipeline_id` of
    /// `application`: refused unless the secret's scope allows that application or the
    /// pipeline's last saver, as they are now. The error names the secret, never its value.
    pub async fn reveal_for(&self, name: &str, application: &str, pipeline_id: &str) -> Result<SecretString> {
        let scope = self.store.secret_scope(name).await.map_err(|_| AppError::not_found(format!("secret {name} is not in the secrets store")))?;
        let mut allowed = allows_application(&scope, application);
        if !allowed {
            let saver = match self.store.get_pipeline(application, pipeline_id).await {
                Ok(pipeline) => crate::triggers::launch::caller_for(&self.store, Some(&pipeline.last_modified_by)).await.ok(),
                Err(_) => None,
            };
            allowed = saver.is_some_and(|saver| allows_holder(&scope, &saver));
        }
        if !allowed {
            return Err(AppError::forbidden(format!("secret {name} may not be used by application {application} (see its roles and applications)")));
        }
        self.reveal(name).await
    }

    /// A secret's value, for the server's own use (server settings such as the SMTP password).
    pub async fn reveal(&self, name: &str) -> Result<SecretString> {
        let sealed = self.store.sealed_secret(name).await?;
        self.key.open(name, &sealed).map_err(|error| {
            tracing::error!(%error, "secret unreadable");
            AppError::Internal
        })
    }
}

#[async_trait]
impl SecretService for Secrets {
    async fn list(&self, caller: &Caller) -> Result<Vec<SecretInfo>> {
        policy::require_admin(caller)?;
        Ok(self.store.list_secrets().await?)
    }

    async fn put(&self, caller: &Caller, name: &str, write: SecretWrite) -> Result<SecretInfo> {
        policy::require_admin(caller)?;
        validate_role(name).map_err(|_| {
            AppError::invalid("name", "secret names are 1 to 64 letters, digits, '-', '_' or '.'")
        })?;
        if let Some(body_name) = &write.name {
            if body_name != name {
                return Err(AppError::invalid("name", "the name in the body differs from the one in the path"));
            }
        }
        if write.value.is_empty() || write.value.len() > MAX_VALUE_LEN {
            return Err(AppError::invalid("value", format!("value must be 1 to {MAX_VALUE_LEN} bytes")));
        }
        for role in &write.roles {
            validate_role(role).map_err(|_| AppError::invalid("roles", format!("{role:?} is not a role name (1 to 64 letters, digits, '-', '_' or '.')")))?;
        }
        for application in &write.applications {
            if application != "*" {
                app::model::names::validate_application(application).map_err(|error| AppError::invalid("applications", format!("{application:?}: {error}")))?;
            }
        }
        let scope = StoredScope { roles: write.roles, applications: write.applications };
        let sealed = self.key.seal(name, &write.value);
        Ok(self.store.upsert_secret(name, write.description.trim(), &scope, &sealed).await?)
    }

    async fn delete(&self, caller: &Caller, name: &str) -> Result<()> {
        policy::require_admin(caller)?;
        Ok(self.store.delete_secret(name).await?)
    }
}

fn allows_application(scope: &StoredScope, application: &str) -> bool {
    scope.applications.iter().any(|allowed| allowed == "*" || allowed == application)
}

fn allows_holder(scope: &StoredScope, caller: &Caller) -> bool {
    caller.admin || caller.roles.iter().any(|role| scope.roles.contains(role))
}

/// Whether `saver` may save a pipeline of `application` that references the secret `name`
/// (the `field` holding the name is what a refusal names). A secret that does not exist and
/// one the saver may not use get the same answer, so a refusal tells nobody which secrets
/// exist.
pub async fn require_usable(store: &Store, saver: &Caller, application: &str, field: &str, name: &str) -> Result<()> {
    let usable = match store.secret_scope(name).await {
        Ok(scope) => allows_application(&scope, application) || allows_holder(&scope, saver),
        Err(_) => false,
    };
    if usable {
        Ok(())
    } else {
        Err(AppError::invalid(
            field,
            format!("no secret {name:?} that {} may use in application {application} (an admin sets a secret's roles and applications)", saver.name),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn seal_and_open_round_trip_bound_to_the_name() {
        let key = SecretKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let sealed = key.seal("smtp", "hunter2");
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open("smtp", &sealed).unwrap().expose_secret(), "hunter2");
        assert!(key.open("other", &sealed).is_err(), "a ciphertext cannot move to another name");
        let other_key = SecretKey::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other_key.open("smtp", &sealed).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("gennaker-key-{}", token::new_id()));
        let path = dir.join("secret.key");
        let first = SecretKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = SecretKey::load_or_create(&path).unwrap();
        let sealed = first.seal("n", "v");
        assert_eq!(second.open("n", &sealed).unwrap().expose_secret(), "v");
        assert!(SecretKey::from_base64("short").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
