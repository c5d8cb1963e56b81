//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), run off the async
//! threads because each hash takes tens of milliseconds of CPU by design.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use app::error::AppError;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Checks a new password's length (long passphrases beat composition rules).
pub fn validate(password: &str) -> Result<(), AppError> {
    let length = password.chars().count();
    if length < MIN_LENGTH || password.len() > MAX_LENGTH {
        return Err(AppError::invalid(
            "password",
            format!("password must be {MIN_LENGTH} to {MAX_LENGTH} characters"),
        ));
    }
    Ok(())
}

pub async fn hash(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

fn hash_now(password: &str) -> Result<String, Error> {
    let salt = SaltString::encode_b64(&super::token::random_bytes::<16>()).map_err(Error::Hash)?;
    let hash = Argon2::default().hash_password(password.as_bytes(), &salt).map_err(Error::Hash)?;
    Ok(hash.to_string())
}

/// True when `password` matches `hash`. With no hash (unknown user, service account) it still
/// spends the time of one verification, so response times do not reveal which users exist.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.with(|dummy| dummy.clone()));
        let parsed = PasswordHash::new(&hash).map_err(Error::Hash)?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && hash_is_real(&hash))
    })
    .await?
}

thread_local! {
    static DUMMY_HASH: String = hash_now("no user has this password").expect("hashing a constant works");
}

fn hash_is_real(hash: &str) -> bool {
    DUMMY_HASH.with(|dummy| dummy != hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_per_salt() {
        let first = hash("correct horse battery".into()).await.unwrap();
        let second = hash("correct horse battery".into()).await.unwrap();
        assert_ne!(first, second);
        assert!(first.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), Some(first.clone())).await.unwrap());
        assert!(!verify("wrong horse battery".into(), Some(first)).await.unwrap());
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate("short").is_err());
        assert!(validate("long enough pass").is_ok());
    }
}
