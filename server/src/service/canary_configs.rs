//! Canary configurations as REST, Gate's routes and (later) the `kayentaCanary` stage use them:
//! read leniently (as Kayenta's Jackson reads them), checked (`CanaryConfig::validate`, plus
//! that every application exists), authorized against every application the config names,
//! and stored with a revision per save.
//!
//! A config is shared by its applications: READ on any of them reads it, and changing or
//! deleting it needs WRITE on all of them, both those it names now and those it will name, so
//! nobody can take a config away from an application, or hand one to it, without WRITE there.

use std::collections::BTreeSet;

use app::error::{AppError, Result};
use app::model::auth::{Access, Caller};
use app::model::canary::{CanaryConfig, StoredCanaryConfig, is_canary_config_id};
use app::ssr::CanaryConfigService;
use async_trait::async_trait;
use serde_json::Value;

use crate::auth::access::authorize;
use crate::auth::{policy, token};
use crate::store::{self, Store};

/// The largest canary config accepted, as JSON.
const MAX_CONFIG_BYTES: usize = 256 << 10;

/// Fields the server answers with (`StoredCanaryConfig`), sent back by a client that saves
/// what it read: not part of the document.
const ANSWERED_FIELDS: &[&str] = &["updatedTimestamp", "updatedTimestampIso", "lastModifiedBy"];

pub struct CanaryConfigs {
    store: Store,
}

/// A body read as a config, with the revision the client edited (when it said).
struct Submitted {
    config: CanaryConfig,
    revision: Option<i64>,
}

impl CanaryConfigs {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Reads and checks a body: a JSON object in Kayenta's shape; `application` joins its
    /// applications when missing. Application names are folded to lowercase, as everywhere.
    fn read(&self, body: Value, application: Option<&str>) -> Result<Submitted> {
        let size = serde_json::to_vec(&body).map_or(0, |bytes| bytes.len());
        if size > MAX_CONFIG_BYTES {
            return Err(AppError::invalid("config", format!("a canary config is at most {MAX_CONFIG_BYTES} bytes of JSON, not {size}")));
        }
        let Value::Object(mut object) = body else {
            return Err(AppError::invalid("config", "a canary config is a JSON object"));
        };
        for field in ANSWERED_FIELDS {
            object.remove(*field);
        }
        let revision = match object.remove("revision") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_i64()
                    .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
                    .ok_or_else(|| AppError::invalid("revision", format!("a revision is a number, not {value}")))?,
            ),
        };
        let mut config: CanaryConfig =
            app::model::lenient::from_value(&Value::Object(object)).map_err(|fault| AppError::Invalid { field: Some(fault.path).filter(|path| !path.is_empty()), message: fault.message })?;
        config.id = config.id.map(|id| id.trim().to_string()).filter(|id| !id.is_empty());
        let mut seen = BTreeSet::new();
        let named = std::mem::take(&mut config.applications);
        config.applications = named
            .iter()
            .map(|name| name.trim().to_ascii_lowercase())
            .chain(application.map(str::to_ascii_lowercase))
            .filter(|name| name.is_empty() || seen.insert(name.clone()))
            .collect();
        config.validate()?;
        Ok(Submitted { config, revision: revision.filter(|revision| *revision > 0) })
    }

    /// Every application the config names exists (400 naming the one that does not), and the
    /// caller may WRITE each.
    async fn require_write_on_named(&self, caller: &Caller, config: &CanaryConfig) -> Result<()> {
        for (index, application) in config.applications.iter().enumerate() {
            if app::model::names::validate_application(application).is_err() {
                return Err(AppError::invalid(format!("applications[{index}]"), format!("{application:?} is not an application name")));
            }
            match self.store.get_application(application).await {
                Ok(found) => policy::require_application(caller, &found, Access::Write)?,
                Err(store::Error::NotFound(_)) => {
                    return Err(AppError::invalid(format!("applications[{index}]"), format!("there is no application {application}")));
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// WRITE on every application a stored config belongs to.
    async fn require_write_on_all(&self, caller: &Caller, stored: &StoredCanaryConfig) -> Result<()> {
        if stored.config.applications.is_empty() {
            return policy::require_admin(caller);
        }
        for application in &stored.config.applications {
            authorize(&self.store, caller, application, Access::Write).await?;
        }
        Ok(())
    }

    /// READ on one of the applications a stored config belongs to.
    async fn require_read_on_one(&self, caller: &Caller, stored: &StoredCanaryConfig) -> Result<()> {
        let mut refusal = None;
        for application in &stored.config.applications {
            match authorize(&self.store, caller, application, Access::Read).await {
                Ok(()) => return Ok(()),
                Err(error @ AppError::Forbidden { .. }) => {
                    refusal.get_or_insert(error);
                }
                Err(other) => return Err(other),
            }
        }
        match refusal {
            Some(error) => Err(error),
            None => policy::require_admin(caller),
        }
    }

    /// Saves a new revision of `existing` with `submitted` (under its id), after checking WRITE
    /// on the applications it will belong to (the caller checked those it belongs to).
    async fn save_revision(&self, caller: &Caller, existing: &StoredCanaryConfig, submitted: Submitted) -> Result<StoredCanaryConfig> {
        let Submitted { mut config, revision } = submitted;
        config.id = existing.config.id.clone();
        self.require_write_on_named(caller, &config).await?;
        Ok(self.store.save_canary_config_over(&config, revision, &caller.name).await?)
    }

    async fn save_new(&self, caller: &Caller, mut config: CanaryConfig) -> Result<StoredCanaryConfig> {
        self.require_write_on_named(caller, &config).await?;
        config.id.get_or_insert_with(new_uuid);
        Ok(self.store.save_canary_config(&config, &caller.name).await?)
    }

    /// The stored config `id`; `NotFound` also for text that cannot be an id (asked of no
    /// database: PostgreSQL refuses some of it, a NUL, as an error).
    async fn stored(&self, id: &str) -> Result<StoredCanaryConfig> {
        if !is_canary_config_id(id) {
            return Err(AppError::not_found(format!("canary config {id} not found")));
        }
        Ok(self.store.get_canary_config(id).await?)
    }

    async fn existing(&self, id: &str) -> Result<Option<StoredCanaryConfig>> {
        match self.store.get_canary_config(id).await {
            Ok(found) => Ok(Some(found)),
            Err(store::Error::NotFound(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

/// The application a path names, folded to lowercase; text that cannot be an application
/// name is none (`NotFound`, asked of no database).
fn application_named(name: &str) -> Result<String> {
    let name = name.to_ascii_lowercase();
    match app::model::names::validate_application(&name) {
        Ok(()) => Ok(name),
        Err(_) => Err(AppError::not_found(format!("application {name} not found"))),
    }
}

/// A random (version 4) UUID, as Kayenta gives a config saved without an id.
fn new_uuid() -> String {
    let mut bytes = token::random_bytes::<16>();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = token::hex(&bytes);
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[async_trait]
impl CanaryConfigService for CanaryConfigs {
    async fn list(&self, caller: &Caller, application: &str) -> Result<Vec<StoredCanaryConfig>> {
        let application = application_named(application)?;
        authorize(&self.store, caller, &application, Access::Read).await?;
        Ok(self.store.list_canary_configs(&application).await?)
    }

    async fn list_readable(&self, caller: &Caller) -> Result<Vec<StoredCanaryConfig>> {
        let readable: BTreeSet<String> = self
            .store
            .list_applications()
            .await?
            .into_iter()
            .filter(|application| policy::may_access(caller, &application.permissions, Access::Read))
            .map(|application| application.name)
            .collect();
        let all = self.store.list_all_canary_configs().await?;
        Ok(all.into_iter().filter(|stored| stored.config.applications.iter().any(|name| readable.contains(name))).collect())
    }

    async fn get(&self, caller: &Caller, id: &str) -> Result<StoredCanaryConfig> {
        let stored = self.stored(id).await?;
        self.require_read_on_one(caller, &stored).await?;
        Ok(stored)
    }

    async fn save(&self, caller: &Caller, application: &str, config: Value) -> Result<StoredCanaryConfig> {
        let application = application_named(application)?;
        authorize(&self.store, caller, &application, Access::Write).await?;
        let submitted = self.read(config, Some(&application))?;
        match &submitted.config.id {
            Some(id) => match self.existing(id).await? {
                Some(existing) => {
                    self.require_write_on_all(caller, &existing).await?;
                    self.save_revision(caller, &existing, submitted).await
                }
                None => self.save_new(caller, submitted.config).await,
            },
            None => self.save_new(caller, submitted.config).await,
        }
    }

    async fn create(&self, caller: &Caller, config: Value) -> Result<StoredCanaryConfig> {
        let submitted = self.read(config, None)?;
        if let Some(id) = &submitted.config.id
            && self.existing(id).await?.is_some()
        {
            return Err(AppError::conflict("id", format!("canary config {id} already exists: update it with PUT")));
        }
        self.save_new(caller, submitted.config).await
    }

    async fn update(&self, caller: &Caller, id: &str, config: Value) -> Result<StoredCanaryConfig> {
        let existing = self.stored(id).await?;
        // Refused before the body is read: a caller without WRITE learns nothing from it.
        self.require_write_on_all(caller, &existing).await?;
        let submitted = self.read(config, None)?;
        if submitted.config.id.as_deref().is_some_and(|named| named != id) {
            return Err(AppError::invalid("id", format!("the body names canary config {:?}, the path {id:?}", submitted.config.id.unwrap_or_default())));
        }
        self.save_revision(caller, &existing, submitted).await
    }

    async fn delete(&self, caller: &Caller, id: &str) -> Result<()> {
        let existing = self.stored(id).await?;
        self.require_write_on_all(caller, &existing).await?;
        Ok(self.store.delete_canary_config(id).await?)
    }

    async fn history(&self, caller: &Caller, id: &str) -> Result<Vec<StoredCanaryConfig>> {
        let existing = self.stored(id).await?;
        self.require_read_on_one(caller, &existing).await?;
        Ok(self.store.canary_config_revisions(id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::new_uuid;

    #[test]
    fn ids_are_version_4_uuids() {
        let id = new_uuid();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.iter().map(|part| part.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{id}");
        assert!(parts[2].starts_with('4') && "89ab".contains(&parts[3][..1]), "{id}");
        assert_ne!(new_uuid(), id);
    }
}
